package command

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr puts a command in a process group of its own, and has the kernel
// SIGKILL it when cutover dies. The kernel sends the parent-death signal
// when the thread that created the child exits, not the process: start
// creates every command from one thread that lives as long as cutover.
// The signal reaches the command only, not what it started: the reaper
// kills the rest of the group.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// starts feeds the goroutine that starts every command, locked to its OS
// thread for the life of the process: the Go runtime ends a thread only
// when a goroutine exits locked to it, and this one never exits, so the
// thread that created the commands outlives none of them.
var (
	startOnce sync.Once
	starts    chan startRequest
)

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func start(cmd *exec.Cmd) error {
	startOnce.Do(func() {
		starts = make(chan startRequest)
		go func() {
			runtime.LockOSThread()
			for req := range starts {
				req.done <- req.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	starts <- startRequest{cmd: cmd, done: done}
	return <-done
}

// waitKillingGroup waits for cmd, then kills what it left behind in its
// process group (a background `&`) before reaping it.
func waitKillingGroup(cmd *exec.Cmd) error {
	waitExited(cmd.Process.Pid)
	killGroup(cmd.Process.Pid)
	return cmd.Wait()
}

// waitExited returns once the process pid has exited, leaving it to be
// reaped by exec.Cmd.Wait: until then its pid, the group's ID, cannot be
// reused, so killGroup cannot reach another group.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// reaperEnv and reaperArg0 make a process the reaper of its parent's
// commands (see reap): its argv is reaperArg0 and a token, and reaperEnv
// holds the same token. The check cannot use the parent's pid: cutover may
// be gone before the reaper's first instruction.
const (
	reaperEnv  = "CUTOVER_INTERNAL_REAPER"
	reaperArg0 = "cutover-reaper"
)

// markEnv is the variable every command of one cutover process carries,
// set to that process's token, and so do its descendants unless they clear
// their environment.
const markEnv = "CUTOVER_COMMAND_OF"

// init turns the process into a reaper when cutover started it as one: the
// check runs in any binary that links this package (cutover, its tests),
// before main.
func init() {
	if v := os.Getenv(reaperEnv); v != "" && len(os.Args) == 2 && os.Args[0] == reaperArg0 && os.Args[1] == v {
		os.Exit(reap(os.Stdin, os.Args[1]))
	}
}

// reap reads "+PGID" and "-PGID" lines (a group starts, a group is gone)
// until end of file, which comes when cutover exits however it exits; then
// it sends SIGKILL to every group still listed, and to the group of every
// process that carries cutover's token in its environment (a command that
// cutover was killed before it could list). It ignores the signals a
// terminal or a service manager would send to end it first.
func reap(in *os.File, token string) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGQUIT)
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		if line[0] == '+' {
			groups[pgid] = true
		} else {
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		killGroup(pgid)
	}
	mark := []byte(markEnv + "=" + token + "\x00")
	eachProcess(func(pid int, stat []string) {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil || !(bytes.HasPrefix(env, mark) || bytes.Contains(env, append([]byte{0}, mark...))) {
			return
		}
		if pgid, err := strconv.Atoi(stat[2]); err == nil && pgid > 1 {
			killGroup(pgid)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	})
	return 0
}

// reaper is this process's reaper: a copy of the running binary (from
// /proc/self/exe, so a binary replaced during the window still works) in a
// process group of its own, reading the pipe w. It is started before the
// first command.
var reaper struct {
	once  sync.Once
	mu    sync.Mutex
	w     *os.File // nil if the reaper could not start or has gone
	token string
}

func startReaper() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := fmt.Sprintf("%d-%x", os.Getpid(), b)
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	defer r.Close()
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{reaperArg0, token}}
	cmd.Env = []string{reaperEnv + "=" + token}
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return
	}
	go func() { _ = cmd.Wait() }()
	reaper.w, reaper.token = w, token
}

// commandEnv is what every command's environment gets added: the token
// the reaper looks for. It starts the reaper, so that it exists before
// any command does.
func commandEnv() []string {
	reaper.once.Do(startReaper)
	if reaper.token == "" {
		return nil
	}
	return []string{markEnv + "=" + reaper.token}
}

func tellReaper(op byte, pgid int) {
	reaper.once.Do(startReaper)
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if reaper.w == nil {
		return
	}
	if _, err := fmt.Fprintf(reaper.w, "%c%d\n", op, pgid); err != nil {
		reaper.w.Close()
		reaper.w = nil
	}
}

// watchGroup has the reaper kill group pgid if cutover ends before it.
func watchGroup(pgid int) { tellReaper('+', pgid) }

// forgetGroup tells the reaper that group pgid is gone.
func forgetGroup(pgid int) { tellReaper('-', pgid) }

// eachProcess calls fn with every process's pid and the fields of its
// /proc/PID/stat after the command name (state, ppid, pgrp, ...).
func eachProcess(fn func(pid int, stat []string)) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) >= 3 {
			fn(pid, f)
		}
	}
}

// Member is a live process of a process group.
type Member struct {
	PID     int
	Command string // its command line, as /proc shows it
}

// LiveGroup lists the processes of process group pgid that are still
// running (zombies excluded), from /proc.
func LiveGroup(pgid int) []Member {
	if pgid <= 1 {
		return nil
	}
	var out []Member
	eachProcess(func(pid int, f []string) {
		if f[0] == "Z" || f[0] == "X" || f[2] != strconv.Itoa(pgid) {
			return
		}
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, Member{PID: pid, Command: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))})
	})
	return out
}
