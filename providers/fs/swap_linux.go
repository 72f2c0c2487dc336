package fs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// swap atomically exchanges the files tmp and dst (renameat2 with
// RENAME_EXCHANGE): dst gets tmp's content and tmp the old one. It fails
// with ENOENT, and changes nothing, if dst does not exist. Filesystems
// without the flag fall back to renameIfExists.
func swap(tmp, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return renameIfExists(tmp, dst)
	}
	if err != nil {
		return &os.PathError{Op: "exchange", Path: dst, Err: err}
	}
	return nil
}
