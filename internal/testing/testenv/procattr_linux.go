//go:build linux

package testenv

import "syscall"

// procAttr starts a server in its own process group, which the kernel
// SIGKILLs if the test binary dies without stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
