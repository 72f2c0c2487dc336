//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package cli

// isTerminalFd has no terminal ioctl to ask here: it never prompts, so
// approve steps need --yes or a flag file.
func isTerminalFd(uintptr) bool { return false }
