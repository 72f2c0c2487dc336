package testenv

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// probeClient sends readiness probes: a server that does not answer
// within its timeout is polled again.
var probeClient = &http.Client{Timeout: 2 * time.Second}

// Tunables of starting and stopping servers.
const (
	logTailLines = 40               // log lines in a StartError
	failLogLines = 200              // log lines printed for a failed test
	stopGrace    = 10 * time.Second // SIGTERM-to-SIGKILL delay
	pollEvery    = 100 * time.Millisecond
)

// StartError reports a server that did not become ready: why, and the
// end of its log.
type StartError struct {
	Server  string // "vault", "kes" or "minio"
	Reason  string // e.g. "exited before it was ready: exit status 1"
	LogFile string // the server's log file
	LogTail string // its last lines (up to 40)
}

// Error returns the reason followed by the log lines.
func (e *StartError) Error() string {
	return fmt.Sprintf("%s did not start: %s\n--- last lines of %s ---\n%s--- end of log ---",
		e.Server, e.Reason, e.LogFile, e.LogTail)
}

// BindClash reports whether the server failed because its address was
// already in use (as Vault and KES say it, or as MinIO does).
func (e *StartError) BindClash() bool {
	log := strings.ToLower(e.LogTail)
	return strings.Contains(log, "address already in use") || strings.Contains(log, "port is already in use")
}

// newStartError builds a StartError with the tail of logFile.
func newStartError(server, logFile, reason string) *StartError {
	return &StartError{Server: server, Reason: reason, LogFile: logFile, LogTail: logTail(logFile, logTailLines)}
}

// logTail returns the last n lines of a file, or a note saying why not.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)\n", err)
	}
	lines := strings.SplitAfter(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "") + "\n"
}

// process is a server process started by this package, in a process
// group of its own, with stdout and stderr appended to a log file.
type process struct {
	cmd     *exec.Cmd
	logFile string
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // Wait's result, valid after done
	stop    sync.Once
}

// startProcess starts argv with env (nothing inherited), logging to
// logFile.
func startProcess(logFile string, env []string, argv ...string) (*process, error) {
	log, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, string) {
	select {
	case <-p.done:
		if p.waitErr == nil {
			return true, "exit status 0"
		}
		return true, p.waitErr.Error()
	default:
		return false, ""
	}
}

// Stop stops the process: SIGTERM to its process group, SIGKILL to the
// group after stopGrace, and SIGKILL again once it is reaped, for any
// descendant left behind. It is idempotent.
func (p *process) Stop() {
	p.stop.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// waitReady polls probe until it succeeds. It fails with a StartError
// when gone reports that the server has exited, or after timeout.
func waitReady(server, logFile string, timeout time.Duration, probe func() error, gone func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if dead, how := gone(); dead {
			return newStartError(server, logFile, "exited before it was ready: "+how)
		}
		if time.Now().After(deadline) {
			return newStartError(server, logFile, fmt.Sprintf("not ready after %v (still running): %v", timeout, err))
		}
		time.Sleep(pollEvery)
	}
}

// stopper is a started server.
type stopper interface{ Stop() }

// register stops s at the end of t, then prints its log if t failed.
func register(t testing.TB, name, logFile string, s stopper) {
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("--- %s log %s (last %d lines) ---\n%s", name, logFile, failLogLines, logTail(logFile, failLogLines))
		}
	})
}

// must fails t with err, if any, naming what failed.
func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// killGroup sends SIGKILL to the process group pgid, if any is left.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// runCommand runs argv with env (nil: inherit) and returns its stdout;
// the error of a failed run carries stderr.
func runCommand(env []string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", argv[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}
