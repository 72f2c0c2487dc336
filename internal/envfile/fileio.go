package envfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Digest returns the lowercase hex SHA-256 of data, to check that a file is
// identical on every node.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ReadFile reads the regular file at path and returns its contents and mode
// (permission bits plus setuid, setgid and sticky), suitable as the perm
// argument of WriteAtomic.
func ReadFile(path string) (data []byte, mode os.FileMode, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("envfile: %s is not a regular file", path)
	}
	data, err = io.ReadAll(f)
	if err != nil {
		return nil, 0, err
	}
	return data, fi.Mode(), nil
}

// WriteAtomic replaces the file at path with data so that readers see either
// the old or the new contents, never a mix, even after a crash. It writes a
// temporary file in the same directory, fsyncs it, renames it over path and
// fsyncs the directory.
//
// If path exists, the new file keeps its mode (permission, setuid, setgid and
// sticky bits) and, when running as root, its owner and group; if path is a
// symbolic link, the file it points to is replaced and the link is kept.
// Otherwise the file is created with exactly perm (the umask does not apply).
// Extended attributes, ACLs and SELinux labels are not copied: the new file
// gets the defaults of the directory. On error the temporary file is removed
// and path is left as it was.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	meta, err := currentMeta(target, perm)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(target, data, meta)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(target))
}

// fileMeta is what WriteAtomic carries over from the file it replaces.
type fileMeta struct {
	mode     os.FileMode
	owner    owner
	keepOwns bool // chown the new file to owner
}

// resolve follows symbolic links in path, if it exists.
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	return target, err
}

// currentMeta returns the mode and owner of the file at path, or perm if it
// does not exist.
func currentMeta(path string, perm os.FileMode) (fileMeta, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileMeta{mode: perm & modeBits}, nil
	}
	if err != nil {
		return fileMeta{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileMeta{}, fmt.Errorf("envfile: %s is not a regular file", path)
	}
	o, ok := fileOwner(fi)
	return fileMeta{mode: fi.Mode() & modeBits, owner: o, keepOwns: ok && os.Geteuid() == 0}, nil
}

const modeBits = os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// writeTemp writes data to a new temporary file next to target with the
// given metadata, fsyncs and closes it, and returns its name.
func writeTemp(target string, data []byte, meta fileMeta) (name string, err error) {
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
	if err = fillTemp(f, data, meta); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// fillTemp sets owner and mode of f (owner first: chown clears setuid),
// writes data and fsyncs.
func fillTemp(f *os.File, data []byte, meta fileMeta) error {
	if meta.keepOwns {
		if err := f.Chown(meta.owner.uid, meta.owner.gid); err != nil {
			return err
		}
	}
	if err := f.Chmod(meta.mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
