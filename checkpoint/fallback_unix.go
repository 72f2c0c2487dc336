//go:build unix

package checkpoint

import (
	"fmt"
	"os"
	"syscall"
)

// privateDir refuses dir unless it is a real directory (not a symlink)
// owned by this user and closed to others: $TMPDIR is shared.
func privateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("fallback directory %s is not a private directory of this user's (mode 0700, not a symlink)", dir)
	}
	return nil
}
