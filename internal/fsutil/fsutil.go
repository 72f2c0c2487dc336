// Package fsutil is cutover's one way to replace a file: a crash leaves
// either the old or the new content, never a mix, and after a write returns
// nil the new content is durable. The order is what makes that true:
//
//  1. create a temporary file in the target's directory (".<name>.tmp-*", so
//     the rename stays on one file system);
//  2. set its owner (when asked), then its mode (chown clears setuid), so it
//     is never readable by more than it should be;
//  3. write the content and fsync the file;
//  4. close it and rename it over the target;
//  5. fsync the directory, so the rename itself survives a crash.
//
// A failure before the rename removes the temporary file and leaves the
// target as it was. WriteFileAtomic gives the file exactly a mode,
// ReplaceFile keeps the mode and owner of the file it replaces, WriteFileMeta
// sets exactly a recorded mode and owner, WriteStream writes content
// produced by a function; WriteTemp is steps 1 to 4 without the rename, for a
// caller that links or exchanges the file itself (the fs keystore).
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Meta is a file's mode (permission, setuid, setgid and sticky bits) and, on
// platforms that have one, its numeric owner and group (HasOwner).
type Meta struct {
	Mode     os.FileMode
	UID, GID int
	HasOwner bool
}

// ModeBits are the bits of a mode that Meta carries.
const ModeBits = os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// hook, when set by a test, is called before each step of a write with the
// step's name ("create", "chown", "chmod", "write", "fsync", "close",
// "rename", "fsync-dir"); an error fails the write at that step.
var hook func(step string) error

func at(step string) error {
	if hook == nil {
		return nil
	}
	return hook(step)
}

// WriteFileAtomic replaces path with data, mode perm exactly (the umask does
// not apply, and the mode of a file it replaces is not kept).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return commit(path, Meta{Mode: perm & ModeBits}, bytesOf(data))
}

// WriteStream is WriteFileAtomic with the content written by fill.
func WriteStream(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	return commit(path, Meta{Mode: perm & ModeBits}, fill)
}

// ReplaceFile replaces path with data, keeping what the file had: if path
// exists, the new file keeps its mode and, when running as root, its owner
// and group; if path is a symbolic link, the file it points to is replaced
// and the link kept. A new file gets exactly perm. Extended attributes, ACLs
// and SELinux labels are not copied: the new file gets the directory's
// defaults.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	meta, err := currentMeta(target, perm)
	if err != nil {
		return err
	}
	return commit(target, meta, bytesOf(data))
}

// WriteFileMeta replaces path with data, giving the new file exactly meta's
// mode and, when meta.HasOwner, its owner and group, whatever the file it
// replaces had: it puts a file back as it was recorded. Changing the owner
// needs the right to (root, as a rule); without it the write fails and path
// is left as it was. Symbolic links are followed as by ReplaceFile.
func WriteFileMeta(path string, data []byte, meta Meta) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(target); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", target)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	meta.Mode &= ModeBits
	if err := commit(target, meta, bytesOf(data)); err != nil {
		return fmt.Errorf("write %s with mode %v: %w", target, meta.Mode, err)
	}
	return nil
}

// WriteTemp writes data, mode perm, to a new temporary file beside path,
// fsyncs and closes it, and returns its name. The caller puts it in place
// (link, rename, exchange), then calls SyncDir; on its own failure it
// removes the file.
func WriteTemp(path string, data []byte, perm os.FileMode) (string, error) {
	return writeTemp(path, Meta{Mode: perm & ModeBits}, bytesOf(data))
}

// ReadFile reads the regular file at path and returns its contents and Meta.
func ReadFile(path string) ([]byte, Meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Meta{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, Meta{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, Meta{}, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, Meta{}, err
	}
	o, ok := fileOwner(fi)
	return data, Meta{Mode: fi.Mode() & ModeBits, UID: o.uid, GID: o.gid, HasOwner: ok}, nil
}

// bytesOf is the content function of data.
func bytesOf(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// commit writes the temporary file, renames it over target and fsyncs the
// directory.
func commit(target string, meta Meta, content func(io.Writer) error) error {
	tmp, err := writeTemp(target, meta, content)
	if err != nil {
		return err
	}
	if err := at("rename"); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(target))
}

// writeTemp is steps 1 to 4 before the rename: create, chown, chmod, write,
// fsync, close. On error the temporary file is removed.
func writeTemp(target string, meta Meta, content func(io.Writer) error) (name string, err error) {
	if err := at("create"); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f, meta, content); err != nil {
		return "", err
	}
	if err := at("close"); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// fill sets owner and mode of f (owner first: chown clears setuid), writes
// the content and fsyncs.
func fill(f *os.File, meta Meta, content func(io.Writer) error) error {
	if meta.HasOwner {
		if err := at("chown"); err != nil {
			return err
		}
		if err := f.Chown(meta.UID, meta.GID); err != nil {
			return err
		}
	}
	if err := at("chmod"); err != nil {
		return err
	}
	if err := f.Chmod(meta.Mode); err != nil {
		return err
	}
	if err := at("write"); err != nil {
		return err
	}
	if err := content(f); err != nil {
		return err
	}
	if err := at("fsync"); err != nil {
		return err
	}
	return f.Sync()
}

// resolve follows symbolic links in path, if it exists.
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	return target, err
}

// currentMeta returns the mode of the file at path and, when running as
// root, its owner; perm if it does not exist.
func currentMeta(path string, perm os.FileMode) (Meta, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{Mode: perm & ModeBits}, nil
	}
	if err != nil {
		return Meta{}, err
	}
	if !fi.Mode().IsRegular() {
		return Meta{}, fmt.Errorf("%s is not a regular file", path)
	}
	o, ok := fileOwner(fi)
	return Meta{Mode: fi.Mode() & ModeBits, UID: o.uid, GID: o.gid, HasOwner: ok && os.Geteuid() == 0}, nil
}

// SyncDir fsyncs a directory so that a rename or create inside it is durable.
func SyncDir(dir string) error {
	if err := at("fsync-dir"); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// AppendSync appends data to path (created 0600 if absent) and fsyncs it. It
// is how append-only logs (audit, journals) are written.
func AppendSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
