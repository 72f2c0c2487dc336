package fs

import (
	"os"
	"sync"
)

// renameMu serialises renameIfExists within the process.
var renameMu sync.Mutex

// renameIfExists renames tmp over dst if dst exists, and fails with an
// ENOENT error otherwise. The check and the rename are two steps: another
// process deleting dst between them would see it come back. Linux uses an
// atomic exchange instead (swap_linux.go).
func renameIfExists(tmp, dst string) error {
	renameMu.Lock()
	defer renameMu.Unlock()
	if _, err := os.Lstat(dst); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
