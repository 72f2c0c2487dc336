package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/rollback"
	"github.com/cutover/cutover/steps"
)

// The test step types record what they do in journal and take their time on
// clock, so tests assert order and durations without sleeping.
//
//	test_change: a change (undone in phase 1)
//	test_down:   a restart-like step: redone in phase 2, starts the window
//	test_panic:  a change whose Apply panics
func init() {
	steps.Register(steps.Type{Name: "test_change", Kind: steps.KindChange, Decode: decodeTestStep(false)})
	steps.Register(steps.Type{Name: "test_down", Kind: steps.KindRedo, Idempotent: true, Downtime: true, Restarts: true, Decode: decodeTestStep(false)})
	steps.Register(steps.Type{Name: "test_panic", Kind: steps.KindChange, Decode: decodeTestStep(true)})
}

var (
	journalMu sync.Mutex
	journal   []string
	clock     = &fakeClock{}
)

func record(format string, args ...any) {
	journalMu.Lock()
	defer journalMu.Unlock()
	journal = append(journal, fmt.Sprintf(format, args...))
}

func recorded() []string {
	journalMu.Lock()
	defer journalMu.Unlock()
	return append([]string(nil), journal...)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testStepConfig struct {
	// Fail makes the first Fail attempts fail; -1 fails every attempt.
	Fail int `hcl:"fail,optional"`
	// Takes is how far an attempt advances the clock.
	Takes string `hcl:"takes,optional"`
}

type testStep struct {
	testStepConfig
	takes  time.Duration
	panics bool
	calls  int
}

func decodeTestStep(panics bool) func(hcl.Body, *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	return func(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
		s := &testStep{panics: panics}
		diags := dc.DecodeBody(body, &s.testStepConfig)
		if s.Takes != "" {
			s.takes, _ = time.ParseDuration(s.Takes)
		}
		return s, diags
	}
}

func (s *testStep) Plan(context.Context, steps.Runtime) ([]steps.Action, error) { return nil, nil }

func (s *testStep) Apply(_ context.Context, rt steps.Runtime) error {
	verb := "apply"
	if rt.RollingBack() {
		verb = "redo"
	}
	record("%s %s", verb, rt.StepID())
	clock.advance(s.takes)
	if s.panics {
		panic("boom in " + rt.StepID())
	}
	s.calls++
	if s.Fail < 0 || s.calls <= s.Fail {
		return fmt.Errorf("attempt %d of %s failed", s.calls, rt.StepID())
	}
	rt.SetSummary(fmt.Sprintf("applied after %d attempt(s)", s.calls))
	return nil
}

func (s *testStep) Undo(_ context.Context, rt steps.Runtime) error {
	record("undo %s", rt.StepID())
	return nil
}

// harness is a plan loaded from a temp file with its own state directory.
type harness struct {
	t      *testing.T
	plan   *plan.Plan
	store  *checkpoint.Store
	events *event.Recorder
}

func newHarness(t *testing.T, src string) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, diags := plan.Load(path, plan.Options{Environ: []string{}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	store, err := checkpoint.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	journalMu.Lock()
	journal = nil
	journalMu.Unlock()
	clock.mu.Lock()
	clock.now = time.Date(2025, 6, 1, 2, 0, 0, 0, time.UTC)
	clock.mu.Unlock()
	return &harness{t: t, plan: p, store: store, events: &event.Recorder{}}
}

func (h *harness) options() engine.Options {
	return engine.Options{Store: h.store, Events: h.events, Now: clock.Now}
}

func (h *harness) run() engine.Result { return engine.Run(context.Background(), h.plan, h.options()) }

func (h *harness) state() *checkpoint.State {
	h.t.Helper()
	st, err := h.store.Load()
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// wantStatuses checks the recorded status of each step, in plan order.
func (h *harness) wantStatuses(want ...checkpoint.Status) {
	h.t.Helper()
	st := h.state()
	var got []checkpoint.Status
	for _, s := range st.Steps {
		got = append(got, s.Status)
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Errorf("step statuses %v, want %v", got, want)
	}
}

func wantJournal(t *testing.T, want ...string) {
	t.Helper()
	if got := recorded(); !reflect.DeepEqual(got, want) {
		t.Errorf("journal:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (h *harness) count(typ string) int {
	n := 0
	for _, e := range h.events.Events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestWindow(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		durations map[string]time.Duration
		journal   []string
		over      string // "" when the plan fits
		preflight bool   // refused before the run: the plan's own estimate is over
	}{
		{
			name: "recorded durations exceed the window",
			src: `
cutover "w" { window = "1m" }
step "test_change" "prep" {}
step "test_down" "a" {}
step "test_change" "b" {}
`,
			durations: map[string]time.Duration{"test_down.a": 30 * time.Second, "test_change.b": 50 * time.Second},
			// a, b and a rollback cannot fit the window: refused before
			// anything runs
			over:      "window 1m0s, estimate 1m50s from test_down.a: steps 1m20s, a rollback 30s, over by 50s",
			preflight: true,
		},
		{
			name: "a slow step leaves too little time for the next",
			src: `
cutover "w" { window = "100s" }
step "test_change" "prep" { takes = "1h" }
step "test_down" "a" { takes = "10s" }
step "test_change" "b" { takes = "45s" }
step "test_change" "c" { takes = "40s" }
`,
			durations: map[string]time.Duration{
				"test_down.a": 10 * time.Second, "test_change.b": 20 * time.Second, "test_change.c": 40 * time.Second,
				"undo:test_change.b": 5 * time.Second, "undo:test_change.c": 5 * time.Second,
			},
			// before c: 45s left; c (40s) + redo a (10s) + undo b, c (5s each) = 60s
			journal: []string{"apply test_change.prep", "apply test_down.a", "apply test_change.b",
				"undo test_change.b", "undo test_change.prep", "redo test_down.a"},
			over: "window 1m40s, 45s left before step test_change.c, but the remaining steps and a rollback are expected to take 1m0s: over by 15s",
		},
		{
			name: "timeouts stand in for missing durations",
			src: `
cutover "w" { window = "1m" }
step "test_down" "a" { timeout = "2m" }
`,
			journal:   nil,
			over:      "over by 3m0s",
			preflight: true,
		},
		{
			name: "the plan fits",
			src: `
cutover "w" { window = "10m" }
step "test_down" "a" { takes = "1m" }
step "test_change" "b" { takes = "1m" }
`,
			durations: map[string]time.Duration{"test_down.a": time.Minute, "test_change.b": 2 * time.Minute, "undo:test_change.b": time.Minute},
			journal:   []string{"apply test_down.a", "apply test_change.b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.src)
			for k, d := range tc.durations {
				if err := h.store.RecordDuration(k, d); err != nil {
					t.Fatal(err)
				}
			}
			r := h.run()
			wantJournal(t, tc.journal...)
			if tc.over == "" {
				if r.Outcome != engine.Completed {
					t.Fatalf("outcome %s: %v", r.Outcome, r.Err)
				}
				return
			}
			if tc.preflight {
				if r.Outcome != engine.Failed || !errors.Is(r.Err, engine.ErrPreflight) || !errors.Is(r.Err, engine.ErrWindow) ||
					!strings.Contains(r.Err.Error(), tc.over) {
					t.Fatalf("outcome %s, err %v: want refused at preflight, %q", r.Outcome, r.Err, tc.over)
				}
				return
			}
			if r.Outcome != engine.RolledBack || !errors.Is(r.Err, engine.ErrWindow) {
				t.Fatalf("outcome %s, err %v: want a rollback for the window", r.Outcome, r.Err)
			}
			if !strings.Contains(r.Err.Error(), tc.over) {
				t.Errorf("error %q does not say %q", r.Err, tc.over)
			}
			st := h.state()
			if st.Phase != checkpoint.PhaseRolledBack || !strings.Contains(st.Error, "over by") {
				t.Errorf("state %s %q", st.Phase, st.Error)
			}
			if last := st.Steps[len(st.Steps)-1]; last.Status != checkpoint.StatusPending {
				t.Errorf("the step that would overrun is %s, want pending (never started)", last.Status)
			}
		})
	}
}

func TestPointOfNoReturn(t *testing.T) {
	h := newHarness(t, `
cutover "ponr" { point_of_no_return = step.test_change.resume }
step "test_change" "switch" {}
step "test_change" "resume" {}
step "test_change" "report" { fail = -1 }
`)
	r := h.run()
	if r.Outcome != engine.Failed || r.Err == nil || !strings.Contains(r.Err.Error(), "attempt 1 of test_change.report failed") {
		t.Fatalf("run: outcome %s err %v, want Failed", r.Outcome, r.Err)
	}
	if !strings.Contains(r.Next, "rollback --accept-data-loss") {
		t.Errorf("next %q does not offer the rollback with --accept-data-loss", r.Next)
	}
	st := h.state()
	if !st.PastPointOfNoReturn || st.Phase != checkpoint.PhaseFailed || st.Rollback != nil {
		t.Errorf("state: past %v phase %s rollback %+v; want failed, no rollback", st.PastPointOfNoReturn, st.Phase, st.Rollback)
	}
	if h.count(event.RollbackStart) != 0 {
		t.Error("a rollback started after the point of no return")
	}
	wantJournal(t, "apply test_change.switch", "apply test_change.resume", "apply test_change.report")

	r = engine.Rollback(context.Background(), h.plan, h.options())
	if r.Outcome != engine.Failed || !errors.Is(r.Err, rollback.ErrPastPointOfNoReturn) {
		t.Fatalf("rollback without accepting data loss: outcome %s err %v", r.Outcome, r.Err)
	}
	if !strings.Contains(r.Err.Error(), "steps since then: test_change.resume, test_change.report") {
		t.Errorf("refusal %q does not say what would be lost", r.Err)
	}
	if st := h.state(); st.Rollback != nil || st.Phase != checkpoint.PhaseFailed {
		t.Errorf("a refused rollback changed the state: %s %+v", st.Phase, st.Rollback)
	}
	wantJournal(t, "apply test_change.switch", "apply test_change.resume", "apply test_change.report")

	opts := h.options()
	opts.AcceptDataLoss = true
	r = engine.Rollback(context.Background(), h.plan, opts)
	if r.Outcome != engine.Completed {
		t.Fatalf("rollback with --accept-data-loss: %s %v", r.Outcome, r.Err)
	}
	wantJournal(t, "apply test_change.switch", "apply test_change.resume", "apply test_change.report",
		"undo test_change.report", "undo test_change.resume", "undo test_change.switch")
	if st := h.state(); st.Phase != checkpoint.PhaseRolledBack || !st.Rollback.Manual {
		t.Errorf("state after the rollback: %s", st.Phase)
	}
}

func TestWhenFalseSkips(t *testing.T) {
	h := newHarness(t, `
variable "enabled" { default = false }
step "test_change" "a" { when = var.enabled }
step "test_change" "b" { when = step.test_change.a.status == "skipped" }
step "test_change" "c" { when = step.test_change.b.status != "done" }
`)
	if r := h.run(); r.Outcome != engine.Completed {
		t.Fatalf("outcome %s: %v", r.Outcome, r.Err)
	}
	wantJournal(t, "apply test_change.b")
	h.wantStatuses(checkpoint.StatusSkipped, checkpoint.StatusDone, checkpoint.StatusSkipped)
	if n := h.count(event.StepSkip); n != 2 {
		t.Errorf("%d skip events, want 2", n)
	}
}

func TestRetries(t *testing.T) {
	h := newHarness(t, `
step "test_change" "flaky" {
  fail           = 2
  retries        = 2
  retry_interval = "1ms"
}
`)
	if r := h.run(); r.Outcome != engine.Completed {
		t.Fatalf("outcome %s: %v", r.Outcome, r.Err)
	}
	wantJournal(t, "apply test_change.flaky", "apply test_change.flaky", "apply test_change.flaky")
	if n := h.count(event.StepRetry); n != 2 {
		t.Errorf("%d retry events, want 2", n)
	}
	if rec := h.state().Steps[0]; rec.Status != checkpoint.StatusDone || rec.Summary != "applied after 3 attempt(s)" {
		t.Errorf("step record %+v", rec)
	}

	// One retry too few: the step fails after two attempts and is rolled back.
	h = newHarness(t, `
step "test_change" "flaky" {
  fail           = 2
  retries        = 1
  retry_interval = "1ms"
}
`)
	r := h.run()
	if r.Outcome != engine.RolledBack || !strings.Contains(r.Err.Error(), "attempt 2 of test_change.flaky failed") {
		t.Fatalf("outcome %s: %v", r.Outcome, r.Err)
	}
	wantJournal(t, "apply test_change.flaky", "apply test_change.flaky", "undo test_change.flaky")
}

func TestPanicInStepRollsBack(t *testing.T) {
	h := newHarness(t, `
step "test_change" "before" {}
step "test_panic" "boom" {}
step "test_change" "after" {}
`)
	r := h.run()
	if r.Outcome != engine.RolledBack || r.Err == nil || !strings.Contains(r.Err.Error(), "internal error (panic): boom in test_panic.boom") {
		t.Fatalf("outcome %s err %v: want the panic as an error and a rollback", r.Outcome, r.Err)
	}
	wantJournal(t, "apply test_change.before", "apply test_panic.boom", "undo test_panic.boom", "undo test_change.before")
	h.wantStatuses(checkpoint.StatusDone, checkpoint.StatusFailed, checkpoint.StatusPending)
	st := h.state()
	if st.Phase != checkpoint.PhaseRolledBack || !strings.Contains(st.Steps[1].Error, "panic") {
		t.Errorf("state %s, step error %q", st.Phase, st.Steps[1].Error)
	}
	if _, err := h.store.ReadLock(); !errors.Is(err, checkpoint.ErrNotLocked) {
		t.Errorf("lock after the run: %v, want released", err)
	}
}

// inodeSink records the inode of state.json at every step event.
type inodeSink struct {
	path   string
	inodes map[uint64]bool
	marks  int
}

func (s *inodeSink) Emit(ev event.Event) {
	if ev.Type != event.StepStart && ev.Type != event.StepDone {
		return
	}
	s.marks++
	if fi, err := os.Stat(s.path); err == nil {
		s.inodes[fi.Sys().(*syscall.Stat_t).Ino] = true
	}
}

// A step's marks append to state.log: state.json is written whole when the
// run starts and ends, never per step, so the cost of a step does not grow
// with the plan (issue 14). The checkpoint still holds every step done.
func TestStepMarksDoNotRewriteState(t *testing.T) {
	var src strings.Builder
	src.WriteString("cutover \"long\" { window = \"24h\" }\nstep \"test_down\" \"first\" {}\n")
	const n = 300
	for i := 1; i < n; i++ {
		fmt.Fprintf(&src, "step \"test_change\" \"s%d\" {}\n", i)
	}
	h := newHarness(t, src.String())
	sink := &inodeSink{path: filepath.Join(h.store.Dir(), "state.json"), inodes: map[uint64]bool{}}
	opts := h.options()
	opts.Events = sink
	if r := engine.Run(context.Background(), h.plan, opts); r.Outcome != engine.Completed {
		t.Fatalf("run %s: %v", r.Outcome, r.Err)
	}
	if sink.marks != 2*n || len(sink.inodes) != 1 {
		t.Errorf("%d step events saw %d versions of state.json, want %d events and 1 version", sink.marks, len(sink.inodes), 2*n)
	}
	st := h.state()
	for _, s := range st.Steps {
		if s.Status != checkpoint.StatusDone {
			t.Fatalf("step %s is %s after the run", s.ID, s.Status)
		}
	}
	if _, err := os.Stat(filepath.Join(h.store.Dir(), "state.log")); !os.IsNotExist(err) {
		t.Errorf("state.log left after the completed run (the final save compacts it): %v", err)
	}
}
