//go:build !linux

package command

import (
	"os/exec"
	"syscall"
)

// procAttr puts a command in a process group of its own. Only Linux has a
// parent-death signal and the reaper: elsewhere a command outlives a
// cutover killed with SIGKILL.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func start(cmd *exec.Cmd) error { return cmd.Start() }

// waitKillingGroup waits for cmd, then kills what it left behind in its
// process group (a background `&`).
func waitKillingGroup(cmd *exec.Cmd) error {
	err := cmd.Wait()
	killGroup(cmd.Process.Pid)
	return err
}

func commandEnv() []string { return nil }

func watchGroup(int)  {}
func forgetGroup(int) {}

// Member is a live process of a process group.
type Member struct {
	PID     int
	Command string
}

// LiveGroup reports the group as one member, with no command line, when a
// signal can still reach it.
func LiveGroup(pgid int) []Member {
	if pgid <= 1 || syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return nil
	}
	return []Member{{PID: pgid}}
}
