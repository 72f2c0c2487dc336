//go:build unix

package fsutil

import (
	"os"
	"syscall"
)

// owner is a file's numeric user and group.
type owner struct{ uid, gid int }

// fileOwner returns the owner of the file fi describes.
func fileOwner(fi os.FileInfo) (owner, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{uid: int(st.Uid), gid: int(st.Gid)}, true
}
