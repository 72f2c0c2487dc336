package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pollEvery is how often a wait looks again; every wait also has a deadline.
const pollEvery = 50 * time.Millisecond

// started records the pid of every process this package started, for
// Leftovers.
var started struct {
	sync.Mutex
	pids []int
}

// proc is a process started by this package: in a process group of its
// own, SIGKILLed by the kernel if the test binary dies, stdout and stderr
// appended to a log file.
type proc struct {
	cmd     *exec.Cmd
	logFile string
	done    chan struct{} // closed once the process is reaped
	waitErr error         // valid after done
}

// startProc starts argv with env (nothing else inherited) in dir,
// logging to logFile.
func startProc(logFile string, env []string, argv ...string) (*proc, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	started.Lock()
	started.pids = append(started.pids, cmd.Process.Pid)
	started.Unlock()
	p := &proc{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

// spawner starts every process of the package from one OS thread that
// never exits: the kernel sends a child its Pdeathsig when the thread
// that forked it ends, and Go ends a thread whose goroutine exits while
// locked to it (which other code in a test binary may do).
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

// spawnReq asks the spawner thread to start cmd.
type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn starts cmd from the spawner thread.
func spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd, done}
	return <-done
}

// pid returns the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace; then it kills the process,
// its group and its descendants (see kill).
func (p *proc) stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	return p.kill()
}

// kill SIGKILLs the process's group and every descendant (which may
// have left the group, like sshd's sessions) and waits until it is
// reaped.
func (p *proc) kill() error {
	killTree(p.pid())
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d still running 10s after SIGKILL", p.pid())
	}
}

// killTree SIGKILLs pid's process group, pid and all its descendants.
func killTree(pid int) {
	kids := descendants(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
}

// descendants returns the pids of every live descendant of pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range allPIDs() {
		if pp, ok := parentPID(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// allPIDs lists the pids in /proc.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// parentPID reads pid's parent from /proc/pid/stat.
func parentPID(pid int) (int, bool) {
	f := statFields(pid)
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(f[1])
	return n, err == nil
}

// statFields returns the fields of /proc/pid/stat after the command
// name: state, ppid, pgrp, ...; nil if pid is gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// alive reports whether pid names a live process (a zombie is dead).
func alive(pid int) bool {
	f := statFields(pid)
	return len(f) > 0 && f[0] != "Z"
}

// waitFor polls cond until it returns nil or timeout passes, then
// returns cond's last error naming what was awaited.
func waitFor(what string, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v: %w", what, timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

// run runs argv and returns its combined output; a failure names the
// command and includes its output.
func run(argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := spawn(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	out := buf.Bytes()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// logTail returns the last n lines of a file, or why it cannot.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log %s: %v)", filepath.Base(path), err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errExited says a process ended before it was ready.
var errExited = errors.New("exited before it was ready")
