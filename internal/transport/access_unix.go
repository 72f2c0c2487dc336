//go:build unix

package transport

import "golang.org/x/sys/unix"

func access(path string) error { return unix.Access(path, unix.W_OK) }
