//go:build !linux

package faultpoint

import "syscall"

// dupOnto makes fd to refer to what from refers to.
func dupOnto(from, to int) error { return syscall.Dup2(from, to) }
