//go:build !linux

package fs

// swap replaces dst by tmp if dst exists (see renameIfExists).
func swap(tmp, dst string) error { return renameIfExists(tmp, dst) }
