package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/command"
)

// The engine's cost per step, beyond the step's own work: plans of N
// trivial steps (`exec true`) run with the real engine and state
// directory, against the same N commands run alone. What is left per step
// is the engine's: durable marks (state.log lines, audit lines), events,
// the window estimate. It must not grow with N.

// trivialPlan is a plan of n steps: a restart (a downtime step, so the
// window check runs before every later step) and n-1 exec steps, each
// running `true`.
func trivialPlan(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cutover \"trivial-%d\" {\n  window = \"24h\"\n}\n", n)
	b.WriteString("step \"restart\" \"first\" {\n  command = [\"true\"]\n}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "step \"exec\" \"s%d\" {\n  command = [\"true\"]\n}\n", i)
	}
	return b.String()
}

// commandsAlone is the wall time of n sequential runs of `true` through
// the runner exec steps use, output discarded.
func commandsAlone(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for range n {
		if err := command.Run(ctx, command.Spec{Argv: []string{"true"}, Output: io.Discard}); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// stepOverhead is one plan size's measurement.
type stepOverhead struct {
	steps          int
	run, commands  time.Duration
	perStepMs      float64
	stateLogBytes  int64
	stateJSONBytes int64
}

// benchStepOverhead runs trivialPlan at every size in sizes.StepCounts
// and reports the engine's overhead per step at each, with the target on
// the largest: at most 3 ms per step, and no more than 1.5 times the
// overhead at 100 steps.
func (b *bench) benchStepOverhead(ctx context.Context, dir string) error {
	var rows []stepOverhead
	for _, n := range b.sizes.StepCounts {
		d := filepath.Join(dir, fmt.Sprintf("steps-%d", n))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		alone, err := commandsAlone(ctx, n)
		if err != nil {
			return fmt.Errorf("`true` alone: %w", err)
		}
		run, err := b.runPlan(ctx, d, trivialPlan(n), nil, fmt.Sprintf("steps-%d", n))
		if err != nil {
			return err
		}
		row := stepOverhead{steps: n, run: run.Wall, commands: alone,
			perStepMs: ms(run.Wall-alone) / float64(n)}
		if fi, err := os.Stat(filepath.Join(d, ".cutover", run.Plan.Name, "state.json")); err == nil {
			row.stateJSONBytes = fi.Size()
		}
		rows = append(rows, row)
		b.report.Add(Metric{Section: "engine", Name: fmt.Sprintf("overhead per step, %d trivial steps", n), Value: Float(row.perStepMs), Unit: "ms",
			Detail: fmt.Sprintf("(run %.2f s - the %d `true` commands alone %.2f s) / %d; durable marks, audit, events, window check; final state.json %d KiB",
				run.Wall.Seconds(), n, alone.Seconds(), n, row.stateJSONBytes/1024),
			Extra: map[string]Float{"run_s": Float(run.Wall.Seconds()), "commands_s": Float(alone.Seconds()), "steps": Float(n)}})
	}
	if len(rows) == 0 {
		return nil
	}
	last := rows[len(rows)-1]
	b.report.AddTarget(Target{Section: "engine", Name: "overhead per step at the largest plan", Value: Float(last.perStepMs), Op: AtMost, Limit: 3, Unit: "ms",
		Detail: fmt.Sprintf("%d steps; %s", last.steps, overheadSeries(rows))})
	if base := rowAt(rows, 100); base != nil && base.perStepMs > 0 {
		b.report.AddTarget(Target{Section: "engine", Name: "overhead growth, largest plan vs 100 steps", Value: Float(last.perStepMs / base.perStepMs), Op: AtMost, Limit: 1.5, Unit: "x",
			Detail: fmt.Sprintf("%.2f ms at %d steps, %.2f ms at 100: flat means the cost of a step does not depend on the plan's length", last.perStepMs, last.steps, base.perStepMs)})
	}
	return nil
}

func rowAt(rows []stepOverhead, n int) *stepOverhead {
	for i := range rows {
		if rows[i].steps == n {
			return &rows[i]
		}
	}
	return nil
}

func overheadSeries(rows []stepOverhead) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprintf("%d: %.2f ms", r.steps, r.perStepMs)
	}
	return strings.Join(parts, ", ")
}
