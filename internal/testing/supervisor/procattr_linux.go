//go:build linux

package supervisor

import "syscall"

// childProcAttr puts the child in its own process group and has the
// kernel SIGKILL it if the supervisor dies without stopping it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
