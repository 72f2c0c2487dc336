//go:build !unix

package checkpoint

import (
	"fmt"
	"os"
)

// privateDir refuses dir unless it is a real directory.
func privateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("fallback directory %s is not a directory", dir)
	}
	return nil
}
