// Command bench measures cutover against the tools it replaces and against
// the servers' own ceilings, side by side in one run, on real servers
// (internal/testing/testenv: Vault, KES, MinIO under a supervisor, mc; bin/ from
// `make tools`). `make bench` runs it; README.md says what each number
// means and how it is measured.
//
//	go run ./bench [-quick] [-only migrate,validate,engine,memory,downtime]
//	               [-out bench/results] [-cpuprofile DIR] [-keep]
//
// It prints a table and writes it as JSON under -out: latest.json and a
// timestamped copy for a full run of every section; latest-<mode>.json
// otherwise, so a smoke run never replaces the full one.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/testing/testenv"
)

func main() {
	os.Exit(run())
}

func run() int {
	quick := flag.Bool("quick", false, "smaller Ns, for a smoke run (about a minute)")
	only := flag.String("only", "", "comma-separated sections to run: "+strings.Join(allSections, ","))
	out := flag.String("out", "", "directory for the JSON results (default <repo>/bench/results)")
	profile := flag.String("cpuprofile", "", "write CPU profiles of the in-process cutover runs into this directory")
	markdown := flag.String("markdown", "", "print README's Performance table from this results JSON (one run) and exit")
	keep := flag.Bool("keep", false, "keep the scratch directory (servers' files, plans, state) for inspection")
	flag.Parse()

	if *markdown != "" {
		r, err := ReadJSON(*markdown)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		fmt.Print(FormatMarkdown(r, filepath.Base(*markdown)))
		return 0
	}
	sections, err := ParseOnly(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if *out == "" {
		*out = filepath.Join(root, "bench", "results")
	}
	scratch, err := os.MkdirTemp("", "cutover-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	b := &bench{root: root, bin: filepath.Join(root, "bin"), scratch: scratch, keep: *keep, quick: *quick, profileDir: *profile,
		sizes: fullSizes()}
	mode := "full"
	if *quick {
		mode, b.sizes = "quick", quickSizes()
	}
	b.report = &Report{Started: time.Now(), Mode: mode, Only: sections, Host: hostInfo(scratch), Sizes: b.sizes.asMap()}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b.logf("bench %s: sections %s; scratch %s", mode, strings.Join(sections, ","), scratch)
	failed := 0
	for _, name := range allSections {
		if !contains(sections, name) {
			b.report.Sections = append(b.report.Sections, SectionResult{Name: name, Status: "not run"})
			b.report.MarkTargets(name, NoRun, "section not selected (-only)")
			continue
		}
		start, load, acc0 := time.Now(), loadAvg(), accountCPU()
		err := b.section(ctx, name)
		wall, acc1 := time.Since(start), accountCPU()
		others, kernel := foreignCPU(acc0, acc1)
		capacity := wall.Seconds() * float64(runtime.NumCPU())
		sr := SectionResult{Name: name, Status: "ok", Seconds: Float(wall.Seconds()), LoadStart: load, LoadEnd: loadAvg(),
			ForeignCPU: Float(others.Seconds()), ForeignShare: Float(others.Seconds() / capacity), KernelCPU: Float(kernel.Seconds()),
			OwnCPU: Float((acc1.own - acc0.own).Seconds()), MachineCPU: Float((acc1.busy - acc0.busy).Seconds())}
		if err != nil {
			failed++
			sr.Status, sr.Error = "error", err.Error()
			b.report.MarkTargets(name, Error, "section failed: see below")
			b.logf("%s FAILED: %v", name, err)
		}
		b.logf("%s: %s (CPU s: this run %.1f, other processes %.1f = %.0f%% of the CPUs, kernel threads %.1f, machine %.1f)", name,
			wall.Round(100*time.Millisecond), float64(sr.OwnCPU), float64(sr.ForeignCPU), 100*float64(sr.ForeignShare),
			float64(sr.KernelCPU), float64(sr.MachineCPU))
		b.report.Sections = append(b.report.Sections, sr)
		if ctx.Err() != nil {
			break
		}
	}
	b.report.Finished = time.Now()
	b.report.Host["loadavg_end"] = loadAvg()
	b.report.TotalSeconds = Float(b.report.Finished.Sub(b.report.Started).Seconds())
	fmt.Print("\n" + FormatTable(b.report))
	paths, err := WriteJSON(*out, b.report)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: writing results:", err)
		return 1
	}
	fmt.Printf("\nresults: %s\n", strings.Join(paths, ", "))
	if b.keep {
		fmt.Printf("scratch kept: %s\n", scratch)
	} else {
		os.RemoveAll(scratch)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// section runs one section, turning a panic into an error so the other
// sections still run and the report is still written.
func (b *bench) section(ctx context.Context, name string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	switch name {
	case "migrate":
		return b.runMigrate(ctx)
	case "validate":
		return b.runValidate(ctx)
	case "engine":
		return b.runEngine(ctx)
	case "memory":
		return b.runMemory(ctx)
	case "downtime":
		return b.runDowntime(ctx)
	}
	return fmt.Errorf("unknown section %s", name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s sizes) asMap() map[string]int {
	m := map[string]int{"keys": s.Keys, "concurrency": s.Concurrency, "objects": s.Objects, "mc_head_sample": s.MCHeadSample,
		"mc_head_concurrency": s.MCHeadConc, "mc_equal_objects": s.MCEqualObjs, "kes_equal_keys": s.KesEqualKeys, "step_rounds": s.StepRounds,
		"checkpoint_saves": s.Saves, "plan_steps": s.PlanSteps, "plan_loads": s.PlanLoads, "downtime_objects": s.DowntimeObjs}
	for i, n := range s.MemoryKeys {
		m[fmt.Sprintf("memory_keys_%d", i+1)] = n
	}
	return m
}

// hostInfo describes the machine the numbers come from.
func hostInfo(scratch string) map[string]any {
	h := map[string]any{"go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH, "cpus": runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			h["mem_total_kb"] = f[1]
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h["cpu_model"] = strings.TrimSpace(v)
				break
			}
		}
	}
	h["scratch"] = scratch
	h["loadavg_start"] = loadAvg()
	return h
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// machineBusy is the CPU time the machine has spent so far (/proc/stat's
// cpu line: user, nice, system, irq, softirq, steal; not idle, iowait or
// the guest times already counted in user), and the interrupt and steal
// part of it.
func machineBusy() (busy, interrupts time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var all, irq int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 0, 1, 2: // user nice system
			all += n
		case 5, 6, 7: // irq softirq steal
			all += n
			irq += n
		}
	}
	tick := time.Second / clockTick
	return time.Duration(all) * tick, time.Duration(irq) * tick
}

// kernelThreadsCPU is the CPU time kernel threads (children of kthreadd)
// have used so far: disk writeback, workqueues, softirq threads; much of
// it is this run's own I/O.
func kernelThreadsCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || (f[1] != "2" && e.Name() != "2") {
			continue
		}
		for _, k := range f[11:13] { // utime stime
			n, _ := strconv.ParseInt(k, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// cpuAccount is where the machine's CPU time went so far.
type cpuAccount struct {
	busy, interrupts, own, kernel time.Duration
}

func accountCPU() cpuAccount {
	busy, irq := machineBusy()
	return cpuAccount{busy: busy, interrupts: irq, own: ownCPU(), kernel: kernelThreadsCPU()}
}

// foreignCPU is what other user processes used between two accounts: the
// machine's busy time less this run's (and its reaped children's), the
// kernel threads' and the interrupts'. It catches short-lived processes
// too (a test binary, a compiler), which a per-process scan would miss.
func foreignCPU(a, b cpuAccount) (others, kernel time.Duration) {
	kernel = (b.kernel - a.kernel) + (b.interrupts - a.interrupts)
	others = (b.busy - a.busy) - (b.own - a.own) - kernel
	return max(0, others), kernel
}

// ownCPU is the CPU time of this process and of every child it has
// waited for (servers are waited for when a section stops them; their
// own children, like MinIO under the supervisor, are counted through
// them).
func ownCPU() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + kids.Utime.Nano() + kids.Stime.Nano())
}
