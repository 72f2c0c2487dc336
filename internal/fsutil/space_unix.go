//go:build unix

package fsutil

import "golang.org/x/sys/unix"

// FreeBytes is the space an unprivileged writer can still use on the file
// system holding dir (statfs: available blocks times the block size).
func FreeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
