//go:build !unix

package fsutil

import "errors"

// FreeBytes is not implemented on this system: callers skip the check.
func FreeBytes(string) (uint64, error) { return 0, errors.ErrUnsupported }
