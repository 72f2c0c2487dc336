package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
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

// stepOverhead is one plan size's measurements, one per round.
type stepOverhead struct {
	steps      int
	perStepMs  []float64 // (run - commands alone) / steps, per round
	runs, cmds []time.Duration
	stateJSON  int64 // bytes of the last round's final state.json
}

// median, low and high of the per-step overheads.
func (o *stepOverhead) median() float64 { return medianFloat(o.perStepMs) }

func (o *stepOverhead) spread() (lo, hi float64) {
	lo, hi = o.perStepMs[0], o.perStepMs[0]
	for _, v := range o.perStepMs {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// medianFloat is the median of vs (the mean of the middle two for an even
// count); NaN for none.
func medianFloat(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundOrder is the order plan sizes run in a round: ascending in even
// rounds, descending in odd ones, so that a change in the machine's load
// during the section falls on every size alike instead of on the last.
func roundOrder(counts []int, round int) []int {
	out := append([]int(nil), counts...)
	if round%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// benchStepOverhead runs trivialPlan at every size in sizes.StepCounts,
// StepRounds times with the sizes alternating (roundOrder), each run just
// after the same number of commands alone, and reports per size the
// median overhead per step and its spread over the rounds. The targets are
// on the medians: at most 3 ms per step at the largest plan, and no more
// than 1.5 times the overhead at 100 steps.
func (b *bench) benchStepOverhead(ctx context.Context, dir string) error {
	if len(b.sizes.StepCounts) == 0 {
		return nil
	}
	rows := map[int]*stepOverhead{}
	for _, n := range b.sizes.StepCounts {
		rows[n] = &stepOverhead{steps: n}
	}
	// warm-up, not recorded: the first exec of `true`, the first plan
	// load and state directory pay for cold caches
	warm := &stepOverhead{steps: b.sizes.StepCounts[0]}
	if err := b.stepOverheadOnce(ctx, dir, warm, -1); err != nil {
		return err
	}
	for round := range max(1, b.sizes.StepRounds) {
		for _, n := range roundOrder(b.sizes.StepCounts, round) {
			if err := b.stepOverheadOnce(ctx, dir, rows[n], round); err != nil {
				return err
			}
		}
	}
	var ordered []*stepOverhead
	for _, n := range b.sizes.StepCounts {
		row := rows[n]
		ordered = append(ordered, row)
		lo, hi := row.spread()
		b.report.Add(Metric{Section: "engine", Name: fmt.Sprintf("overhead per step, %d trivial steps", n), Value: Float(row.median()), Unit: "ms",
			Detail: fmt.Sprintf("median of %d interleaved rounds (min %.2f, max %.2f ms); per round (run - the %d `true` commands alone, timed just before) / %d: %s; durable marks, audit, events, window check; final state.json %d KiB",
				len(row.perStepMs), lo, hi, n, n, roundsText(row), row.stateJSON/1024),
			Extra: map[string]Float{"median_ms": Float(row.median()), "min_ms": Float(lo), "max_ms": Float(hi), "steps": Float(n), "rounds": Float(len(row.perStepMs))}})
	}
	if len(ordered) == 0 {
		return nil
	}
	last := ordered[len(ordered)-1]
	b.report.AddTarget(Target{Section: "engine", Name: "overhead per step at the largest plan", Value: Float(last.median()), Op: AtMost, Limit: 3, Unit: "ms",
		Detail: fmt.Sprintf("%d steps, median of %d rounds; medians: %s", last.steps, len(last.perStepMs), overheadSeries(ordered))})
	if base := rows[100]; base != nil && base.median() > 0 {
		b.report.AddTarget(Target{Section: "engine", Name: "overhead growth, largest plan vs 100 steps", Value: Float(last.median() / base.median()), Op: AtMost, Limit: 1.5, Unit: "x",
			Detail: fmt.Sprintf("median %.2f ms at %d steps, %.2f ms at 100: flat means the cost of a step does not depend on the plan's length", last.median(), last.steps, base.median())})
	}
	return nil
}

// stepOverheadOnce times n commands alone, then the n-step plan in a
// fresh directory, and records the overhead per step in row.
func (b *bench) stepOverheadOnce(ctx context.Context, dir string, row *stepOverhead, round int) error {
	n := row.steps
	d := filepath.Join(dir, fmt.Sprintf("steps-%d-%d", n, round+1)) // round -1: the warm-up, steps-N-0
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	alone, err := commandsAlone(ctx, n)
	if err != nil {
		return fmt.Errorf("`true` alone: %w", err)
	}
	run, err := b.runPlan(ctx, d, trivialPlan(n), nil, fmt.Sprintf("steps-%d-%d", n, round+1))
	if err != nil {
		return err
	}
	row.runs, row.cmds = append(row.runs, run.Wall), append(row.cmds, alone)
	row.perStepMs = append(row.perStepMs, ms(run.Wall-alone)/float64(n))
	if fi, err := os.Stat(filepath.Join(d, ".cutover", run.Plan.Name, "state.json")); err == nil {
		row.stateJSON = fi.Size()
	}
	label := fmt.Sprintf("round %d", round+1)
	if round < 0 {
		label = "warm-up, not recorded"
	}
	b.logf("engine: %d steps, %s: run %.2fs, commands alone %.2fs: %.2f ms per step", n, label, run.Wall.Seconds(), alone.Seconds(), row.perStepMs[len(row.perStepMs)-1])
	return nil
}

func roundsText(row *stepOverhead) string {
	parts := make([]string, len(row.perStepMs))
	for i := range row.perStepMs {
		parts[i] = fmt.Sprintf("(%.2f-%.2f s)/%d = %.2f", row.runs[i].Seconds(), row.cmds[i].Seconds(), row.steps, row.perStepMs[i])
	}
	return strings.Join(parts, ", ")
}

func overheadSeries(rows []*stepOverhead) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprintf("%d: %.2f ms", r.steps, r.median())
	}
	return strings.Join(parts, ", ")
}
