package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"

	_ "github.com/cutover/cutover/providers/all" // every backend, as the cutover binary has
	_ "github.com/cutover/cutover/steps/all"     // every step type
)

// bench is one run of the harness: its options, scratch space and report.
type bench struct {
	root       string // repository root
	bin        string // root/bin
	scratch    string // temp directory holding every server's files
	keep       bool   // keep scratch at the end
	quick      bool
	profileDir string // write CPU profiles of in-process cutover runs here ("" = none)
	verbose    bool
	report     *Report
	sizes      sizes
}

// sizes are the Ns of a run; quick mode shrinks them.
type sizes struct {
	Keys          int   // migrate: keys copied Vault -> Vault
	Rounds        int   // migrate, validate: rounds of each contender (best reported)
	Concurrency   int   // migrate and validate: workers
	Objects       int   // validate: objects in the bucket
	MCHeadSample  int   // validate: objects read with `mc head`, sequentially
	MCHeadConc    int   // validate: `mc head` processes at once in the equal-work comparison
	MCEqualObjs   int   // validate: objects of the equal-work comparison with `mc head` (all of which both read)
	KesEqualKeys  int   // migrate: keys of the equal-work comparison with kes migrate (all of which it copies)
	Saves         int   // engine: checkpoint Save calls
	PlanSteps     int   // engine: steps of the generated plan
	PlanLoads     int   // engine: plan.Load repetitions
	StepCounts    []int // engine: sizes of the trivial-step plans (overhead per step)
	StepRounds    int   // engine: rounds over StepCounts, sizes alternating (median and spread reported)
	MemoryKeys    []int // memory: key counts, FS -> FS
	DowntimeObjs  int   // downtime: objects validate_objects reads inside the window
	DowntimeFills int   // downtime: objects written before the cutover
}

func fullSizes() sizes {
	return sizes{Keys: 10_000, Rounds: 2, Concurrency: 16, Objects: 10_000, MCHeadSample: 300, MCHeadConc: 16, MCEqualObjs: 500, KesEqualKeys: 1_000,
		Saves: 200, PlanSteps: 1_000, PlanLoads: 9, StepCounts: []int{10, 100, 1_000, 5_000}, StepRounds: 3,
		MemoryKeys: []int{10_000, 100_000}, DowntimeObjs: 300}
}

func quickSizes() sizes {
	return sizes{Keys: 1_000, Rounds: 1, Concurrency: 16, Objects: 1_000, MCHeadSample: 30, MCHeadConc: 16, MCEqualObjs: 300, KesEqualKeys: 1_000,
		Saves: 50, PlanSteps: 1_000, PlanLoads: 3, StepCounts: []int{10, 100, 500}, StepRounds: 2,
		MemoryKeys: []int{2_000, 10_000}, DowntimeObjs: 300}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// dir returns a new directory under the scratch space.
func (b *bench) dir(name string) (string, error) {
	d := filepath.Join(b.scratch, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", err
	}
	return d, nil
}

// mkdir creates parent/name (and parents) and returns it; a failure shows
// up as the first use of the path failing.
func mkdir(parent, name string) string {
	d := filepath.Join(parent, name)
	_ = os.MkdirAll(d, 0o700)
	return d
}

// tool returns bin/<name>, checking it exists.
func (b *bench) tool(name string) (string, error) {
	p := filepath.Join(b.bin, name)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("bin/%s missing or not executable: run `make tools` first", name)
	}
	return p, nil
}

// planRun is one in-process run of a plan through the real engine, as
// internal/testing/plantest does it.
type planRun struct {
	Wall   time.Duration
	State  *checkpoint.State
	Events []event.Event
	Plan   *plan.Plan
}

// stepTime returns a step's start and end from the checkpoint state.
func (r *planRun) stepTime(id string) (start, end time.Time, err error) {
	rec := r.State.Step(id)
	if rec == nil || rec.StartedAt == nil || rec.FinishedAt == nil {
		return time.Time{}, time.Time{}, fmt.Errorf("state.json has no times for step %s", id)
	}
	return *rec.StartedAt, *rec.FinishedAt, nil
}

// stepDuration is stepTime's end minus start.
func (r *planRun) stepDuration(id string) (time.Duration, error) {
	s, e, err := r.stepTime(id)
	return e.Sub(s), err
}

// output is a step's recorded output.
func (r *planRun) output(step, key string) string {
	if rec := r.State.Step(step); rec != nil {
		return rec.Outputs[key]
	}
	return ""
}

// runPlan writes src as dir/plan.hcl, loads it and runs it with the real
// engine and a real state directory, answering yes to approvals. A run
// that does not complete is an error. With -cpuprofile, the run is
// profiled into <profileDir>/<profile>.pprof.
func (b *bench) runPlan(ctx context.Context, dir, src string, vars []string, profile string) (*planRun, error) {
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		return nil, err
	}
	p, diags := plan.Load(path, plan.Options{Vars: vars, Environ: []string{}})
	if diags.HasErrors() {
		return nil, fmt.Errorf("plan %s does not load: %s", path, diags.Error())
	}
	store, err := checkpoint.Open(filepath.Join(dir, ".cutover", p.Name))
	if err != nil {
		return nil, err
	}
	rec := &event.Recorder{}
	opts := engine.Options{Store: store, Events: rec, Confirm: func(context.Context, string) (bool, error) { return true, nil }}
	stop, err := b.startProfile(profile)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := engine.Run(ctx, p, opts)
	wall := time.Since(start)
	stop()
	run := &planRun{Wall: wall, State: res.State, Events: rec.Events, Plan: p}
	if res.Outcome != engine.Completed {
		return run, fmt.Errorf("plan %s: run %s: %v", p.Name, res.Outcome, res.Err)
	}
	return run, nil
}

// startProfile starts a CPU profile named name when -cpuprofile is set.
func (b *bench) startProfile(name string) (func(), error) {
	if b.profileDir == "" || name == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(b.profileDir, name+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// findPID returns the pid of the process (not this one) whose command
// line contains every marker: how the harness finds the servers testenv
// started (a Vault by its random root token, a MinIO by its data
// directory), to read their CPU time.
func findPID(markers ...string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		line := string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		all := true
		for _, m := range markers {
			all = all && strings.Contains(line, m)
		}
		// the supervisor's command line names MinIO's too: skip it
		if all && !strings.Contains(line, "supervise") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process with %q in its command line", markers)
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux this runs on).
const clockTick = 100

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command name (field 2) may hold spaces: count fields after ')'
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// selfCPU returns this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU a set of processes (this one, servers by pid)
// spend during an interval.
type cpuMeter struct {
	pids   map[string]int
	starts map[string]time.Duration
}

func newCPUMeter(pids map[string]int) *cpuMeter {
	m := &cpuMeter{pids: pids, starts: map[string]time.Duration{}}
	m.starts["bench"] = selfCPU()
	for name, pid := range pids {
		m.starts[name], _ = procCPU(pid)
	}
	return m
}

// stop returns each process's CPU seconds since newCPUMeter; "bench" is
// this process (where in-process cutover runs).
func (m *cpuMeter) stop() map[string]Float {
	out := map[string]Float{"cpu_bench_s": Float((selfCPU() - m.starts["bench"]).Seconds())}
	for name, pid := range m.pids {
		if now, err := procCPU(pid); err == nil {
			out["cpu_"+name+"_s"] = Float((now - m.starts[name]).Seconds())
		}
	}
	return out
}

// mcEnv is the environment bin/mc runs with against m: the alias "minio",
// a private config dir, no update check, colours or pager (as testenv's
// MC helper does, which needs a *testing.T).
func mcEnv(m *testenv.MinIOServer) []string {
	host := url.URL{Scheme: "http", User: url.UserPassword(m.AccessKey, m.SecretKey), Host: m.Addr}
	home := filepath.Join(m.Dir, "mc-home")
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"MC_HOST_minio=" + host.String(), "MC_CONFIG_DIR=" + filepath.Join(home, ".mc"),
		"MC_UPDATE=off", "MC_NO_COLOR=true", "MC_DISABLE_PAGER=true"}
}

// runCmd runs argv with env, returning stdout, stderr and the exit code
// (-1 if it did not run to an exit).
func runCmd(ctx context.Context, env []string, argv ...string) (stdout, stderr string, code int, err error) {
	cmd := newCmd(ctx, env, argv...)
	var o, e limitedBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	code = -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil // a non-zero exit is reported through code
	}
	return o.String(), e.String(), code, err
}

// stopper is a server started for a section.
type stopper interface{ Stop() }

// servers stops what a section started, newest first.
type servers []stopper

func (s *servers) add(x stopper) { *s = append(*s, x) }

// stopAll has a pointer receiver so that `defer srv.stopAll()` stops what
// was added after the defer statement.
func (s *servers) stopAll() {
	for i := len(*s) - 1; i >= 0; i-- {
		(*s)[i].Stop()
	}
	*s = nil
}

// newCmd is exec.CommandContext with env (nothing inherited) and the
// child in its own process group, killed whole when ctx ends.
func newCmd(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// limitedBuffer keeps the first 1 MiB written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 1<<20 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return l.b.String() }

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
