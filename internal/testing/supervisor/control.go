package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// pollInterval is how often Restart and Stop look at D/status.
const pollInterval = 50 * time.Millisecond

// settle is how long a new child must stay up for Restart to call the
// restart done: a child that exits within it "exits at once".
const settle = 200 * time.Millisecond

// Restart asks the supervisor running in dir to restart its child
// (SIGHUP) and waits until the new child is started and has stayed up for
// settle. It returns an error, with the reason, if no supervisor runs
// there, if the new child cannot be started or exits within settle, or if
// nothing happens within timeout.
func Restart(dir string, timeout time.Duration) error {
	pid, err := alivePID(dir)
	if err != nil {
		return err
	}
	before, _ := ReadStatus(dir)
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("supervisor (pid %d) in %s: %w", pid, dir, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		st, err := ReadStatus(dir)
		if err == nil && st.Generation > before.Generation {
			return restartOutcome(dir, settled(dir, st))
		}
		if !ProcessAlive(pid) {
			return fmt.Errorf("supervisor (pid %d) in %s exited during restart", pid, dir)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart in %s: no new child after %v (state %s)", dir, timeout, st)
		}
		time.Sleep(pollInterval)
	}
}

// settled waits settle after a new child was seen started and returns
// its status then, or the status that ended it sooner.
func settled(dir string, st Status) Status {
	for end := time.Now().Add(settle); st.State == Running && time.Now().Before(end); {
		time.Sleep(min(pollInterval, time.Until(end)))
		now, err := ReadStatus(dir)
		if err != nil || now.Generation != st.Generation {
			break
		}
		st = now
	}
	return st
}

// restartOutcome turns the status of a new start into Restart's result.
func restartOutcome(dir string, st Status) error {
	switch st.State {
	case Running:
		return nil
	case Failed:
		return fmt.Errorf("restart in %s: child could not start: %s", dir, st.Error)
	default:
		return fmt.Errorf("restart in %s: child started but is %s; see %s", dir, st, filepath.Join(dir, LogFile))
	}
}

// Stop asks the supervisor running in dir to stop its child and exit
// (SIGTERM) and waits until it has, at most timeout.
func Stop(dir string, timeout time.Duration) error {
	pid, err := alivePID(dir)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("supervisor (pid %d) in %s: %w", pid, dir, err)
	}
	deadline := time.Now().Add(timeout)
	for ProcessAlive(pid) && fileExists(filepath.Join(dir, PIDFile)) {
		if time.Now().After(deadline) {
			return fmt.Errorf("stop in %s: supervisor (pid %d) still running after %v", dir, pid, timeout)
		}
		time.Sleep(pollInterval)
	}
	return nil
}

// SupervisorPID returns the pid of the supervisor running in dir, or an error
// saying why there is none (never started, stopped, or died leaving a
// stale pid file).
func SupervisorPID(dir string) (int, error) { return alivePID(dir) }

// alivePID reads D/pid and checks that the process is alive.
func alivePID(dir string) (int, error) {
	pid, err := ReadPID(filepath.Join(dir, PIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("no supervisor running in %s (no %s file)", dir, PIDFile)
	}
	if err != nil {
		return 0, err
	}
	if !ProcessAlive(pid) {
		return 0, fmt.Errorf("no supervisor running in %s (stale pid %d)", dir, pid)
	}
	return pid, nil
}

// ProcessAlive reports whether pid names a live process; a zombie
// (exited, not yet reaped) counts as dead.
func ProcessAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: trust kill(2)
	}
	// The state follows the command name, which is in parentheses.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
