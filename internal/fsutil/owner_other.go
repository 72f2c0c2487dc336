//go:build !unix

package fsutil

import "os"

// owner is a file's numeric user and group; unused on this platform.
type owner struct{ uid, gid int }

// fileOwner reports that ownership is not carried over on this platform.
func fileOwner(os.FileInfo) (owner, bool) { return owner{}, false }
