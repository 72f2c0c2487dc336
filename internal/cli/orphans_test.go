//go:build linux

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// orphanPlan's exec step runs sh, which forks a grandchild (sleep 1000) and
// reports both pids through the FIFO "ready" before it waits.
const orphanPlan = `cutover "orphans" {}

step "env" "switch" {
  files = ["app.env"]
  set   = { KMS_PROVIDER = "AWS" }
}

step "exec" "slow" {
  command = ["sh", "-c", "sleep 1000 & echo $$ $! > ready; wait"]
}
`

// startSlow starts `cutover run` on orphanPlan and returns it once the
// exec step's sh and its grandchild run, with the group ID (sh's pid) and
// the grandchild's pid.
func startSlow(t *testing.T, bin, dir string) (cutover *exec.Cmd, pgid, grandchild int) {
	t.Helper()
	writeFiles(t, dir, map[string]string{"plan.hcl": orphanPlan, "app.env": "KMS_PROVIDER=local\n"})
	if err := syscall.Mkfifo(filepath.Join(dir, "ready"), 0o600); err != nil {
		t.Fatal(err)
	}
	cutover = exec.Command(bin, "run", "plan.hcl")
	cutover.Dir = dir
	var out bytes.Buffer
	cutover.Stdout, cutover.Stderr = &out, &out
	if err := cutover.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cutover.Process.Kill(); _ = cutover.Wait() })
	ready, err := os.ReadFile(filepath.Join(dir, "ready")) // blocks until sh writes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(string(ready), &pgid, &grandchild); err != nil {
		t.Fatalf("ready %q: %v\n%s", ready, err, out.String())
	}
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	return cutover, pgid, grandchild
}

// procStat returns the fields of /proc/PID/stat after the command name
// (state, ppid, pgrp, ...), or nil when there is no such process.
func procStat(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
}

// running reports whether pid is a live process (not a zombie).
func running(pid int) bool {
	f := procStat(pid)
	return f != nil && f[0] != "Z" && f[0] != "X"
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); f != nil && f[2] == strconv.Itoa(pgid) && running(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// reaperOf finds the reaper cutover pid started: its child carrying
// CUTOVER_INTERNAL_REAPER.
func reaperOf(t *testing.T, pid int) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(child); f == nil || f[1] != strconv.Itoa(pid) {
			continue
		}
		if env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child)); bytes.Contains(env, []byte("CUTOVER_INTERNAL_REAPER=")) {
			return child
		}
	}
	t.Fatalf("cutover (pid %d) has no reaper process", pid)
	return 0
}

// waitGone blocks until process pid has exited (a pidfd polls readable),
// failing after a minute.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 60_000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("process %d still running after a minute: %v", pid, err)
		}
		return
	}
}

// TestNoOrphans kills cutover with SIGKILL while an exec step's command
// and the grandchild it forked run: no process of the command's group
// survives. Then, with the reaper killed too (a grandchild survives the
// parent-death signal, which only reaches the command itself), a resume
// and a rollback are refused, naming the group's live processes, until the
// group is gone.
func TestNoOrphans(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cutover binary; skipped with -short")
	}
	bin := buildCutover(t)

	t.Run("SIGKILL", func(t *testing.T) {
		dir := t.TempDir()
		cutover, pgid, grandchild := startSlow(t, bin, dir)
		reaper := reaperOf(t, cutover.Process.Pid)
		if err := cutover.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cutover.Wait()
		waitGone(t, reaper)
		// the reaper sent SIGKILL before it exited; they die as they are scheduled
		waitGone(t, pgid)
		waitGone(t, grandchild)
		if left := groupMembers(pgid); len(left) > 0 {
			t.Errorf("process group %d outlived cutover: %v", pgid, left)
		}
	})

	t.Run("resume refused while the group lives", func(t *testing.T) {
		dir := t.TempDir()
		cutover, pgid, grandchild := startSlow(t, bin, dir)
		reaper := reaperOf(t, cutover.Process.Pid)
		for _, pid := range []int{reaper, cutover.Process.Pid} {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		_ = cutover.Wait()
		waitGone(t, reaper)
		waitGone(t, pgid) // sh, by its parent-death signal
		if !running(grandchild) {
			t.Fatalf("the grandchild %d did not survive: nothing to test", grandchild)
		}
		r := &crashRig{t: t, bin: bin}
		var lock struct{ ID string }
		data, _ := os.ReadFile(filepath.Join(dir, ".cutover/orphans/lock.json"))
		if err := json.Unmarshal(data, &lock); err != nil {
			t.Fatal(err)
		}
		r.want(r.cutover(dir, nil, "unlock", lock.ID, "plan.hcl"), ExitOK, "unlock")
		before := readTree(t, dir, nil)
		for _, args := range [][]string{{"run", "plan.hcl"}, {"rollback", "plan.hcl"}} {
			res := r.cutover(dir, nil, args...)
			r.want(res, ExitFailed, strings.Join(args, " ")+" (command still running)")
			for _, want := range []string{
				fmt.Sprintf("cutover: error: a command of the interrupted run is still running: step exec.slow's command `sh -c \"sleep 1000 & echo $$ $! > ready; wait\"` (process group %d, started ", pgid),
				fmt.Sprintf("pid %d sleep 1000", grandchild),
				fmt.Sprintf("cutover: hint: wait for it to end, or stop it: kill -TERM -- -%d   (kill -KILL -- -%d if it stays); then cutover %s", pgid, pgid, args[0]),
			} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("cutover %s: stderr lacks %q:\n%s", args[0], want, res.stderr)
				}
			}
		}
		// nothing changed but the run log and the events log
		after := readTree(t, dir, func(rel string) bool {
			return rel == ".cutover/orphans/logs" || rel == ".cutover/orphans/"+eventsLogName
		})
		delete(before, ".cutover/orphans/logs/run.log")
		delete(before, ".cutover/orphans/"+eventsLogName)
		if !reflect.DeepEqual(after, before) {
			t.Error("a refused resume changed files")
		}

		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		waitGone(t, grandchild)
		res := r.cutover(dir, nil, "run", "plan.hcl")
		r.want(res, ExitFailed, "run (group gone)")
		if strings.Contains(res.stderr, "still running") || !strings.Contains(res.stderr, "not safe to run twice") {
			t.Errorf("with the group gone, the resume should reach the interrupted step's decision:\n%s", res.stderr)
		}
	})
}
