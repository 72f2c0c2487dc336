package envfile

import (
	"errors"
	"fmt"
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

// ReadFileMeta is ReadFile that also returns the file's owner.
func ReadFileMeta(path string) ([]byte, Meta, error) {
	data, mode, err := ReadFile(path)
	if err != nil {
		return nil, Meta{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, Meta{}, err
	}
	o, ok := fileOwner(fi)
	return data, Meta{Mode: mode & modeBits, UID: o.uid, GID: o.gid, HasOwner: ok}, nil
}

// WriteAtomicMeta is WriteAtomic that gives the new file exactly meta's mode
// and, when meta.HasOwner, its owner and group, whatever the file it
// replaces had: it puts a file back as it was recorded. Changing the owner
// needs the right to (root, as a rule); without it the write fails and path
// is left as it was.
func WriteAtomicMeta(path string, data []byte, meta Meta) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(target); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("envfile: %s is not a regular file", target)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fm := fileMeta{mode: meta.Mode & modeBits, owner: owner{uid: meta.UID, gid: meta.GID}, keepOwns: meta.HasOwner}
	tmp, err := writeTemp(target, data, fm)
	if err != nil {
		return fmt.Errorf("set mode and owner of %s: %w", target, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(target))
}
