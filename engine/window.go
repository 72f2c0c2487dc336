package engine

import (
	"fmt"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/rollback"
	"github.com/cutover/cutover/steps"
)

// windowExceeded returns why step i must not start: the window's time left is
// less than what the remaining steps plus a rollback are expected to take
// (DESIGN 4.4). It returns "" when there is no window, the window has not
// started and step i does not start it, or the run is past the point of no
// return (a rollback then is not automatic anyway).
func (e *execution) windowExceeded(i int) string {
	w := e.plan.Window
	if w <= 0 || e.st.PastPointOfNoReturn || e.opts.IgnoreWindow {
		return ""
	}
	s := e.plan.Steps[i]
	now := e.opts.now()
	start := now
	if e.st.WindowStart != nil {
		start = *e.st.WindowStart
	} else if !s.Info.Downtime {
		return ""
	}
	left := w - now.Sub(start)
	need := e.remaining(i) + e.rollbackEstimate(i)
	if need <= left {
		return ""
	}
	return fmt.Sprintf("window %s, %s left before step %s, but the remaining steps and a rollback are expected to take %s: over by %s",
		w, round(left), s.ID, round(need), round(need-left))
}

func round(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(100 * time.Millisecond)
}

// estimate is a step's expected duration: the last recorded one, else its
// timeout, else zero (unknown).
func (e *execution) estimate(s *plan.Step) time.Duration {
	if d := e.durations[s.ID]; d > 0 {
		return d
	}
	return s.Timeout
}

// windowSums makes the window check cost the same at every step, whatever
// the plan's length: remaining(i) and rollbackEstimate(i) were sums over the
// plan at every step, a cost that grew with the plan.
type windowSums struct {
	suffix []time.Duration // suffix[i]: estimates of steps i.. not done or skipped when the run started
	// touched is the rollback estimate of steps 0..upTo-1 that a rollback
	// would compensate; their statuses are final once a later step starts.
	touched time.Duration
	upTo    int
}

// remaining is the expected duration of steps i.. . Steps after i have not
// changed since the run started, so the sums computed then hold.
func (e *execution) remaining(i int) time.Duration {
	if e.win.suffix == nil {
		n := len(e.plan.Steps)
		e.win.suffix = make([]time.Duration, n+1)
		for j := n - 1; j >= 0; j-- {
			s := e.plan.Steps[j]
			e.win.suffix[j] = e.win.suffix[j+1]
			if rec := e.st.Step(s.ID); rec == nil || (rec.Status != checkpoint.StatusDone && rec.Status != checkpoint.StatusSkipped) {
				e.win.suffix[j] += e.estimate(s)
			}
		}
	}
	return e.win.suffix[i]
}

// rollbackEstimate is the expected duration of a rollback after steps 0..i:
// recorded compensation times for changes and drains, step estimates for the
// restarts and checks redone.
func (e *execution) rollbackEstimate(i int) time.Duration {
	for ; e.win.upTo < i; e.win.upTo++ {
		s := e.plan.Steps[e.win.upTo]
		if rec := e.st.Step(s.ID); rec != nil && rollback.Touched(*rec) {
			e.win.touched += e.compensationEstimate(s)
		}
	}
	return e.win.touched + e.compensationEstimate(e.plan.Steps[i])
}

// compensationEstimate is what a rollback is expected to spend on s.
func (e *execution) compensationEstimate(s *plan.Step) time.Duration {
	switch s.Info.Kind {
	case steps.KindChange, steps.KindDrain:
		return e.durations["undo:"+s.ID]
	case steps.KindRedo:
		return e.estimate(s)
	}
	return 0
}

// WindowEstimate is the plan's own estimate of the window it needs, made
// before a run: from the first downtime step (where the window starts) every
// step's estimate to the end, plus a rollback of every step up to the point
// of no return (the last moment the window check can still roll back).
type WindowEstimate struct {
	// Window is the plan's window; 0 means none.
	Window time.Duration
	// From is the first downtime step ("" when no step starts the window).
	From string
	// Steps and Rollback are the two parts of Need.
	Steps, Rollback time.Duration
	// Unknown counts the steps in the estimate with neither a recorded
	// duration nor a timeout: they count as zero.
	Unknown int
}

// Need is the whole estimate.
func (w WindowEstimate) Need() time.Duration { return w.Steps + w.Rollback }

// Over reports whether the window is shorter than the estimate.
func (w WindowEstimate) Over() bool { return w.Window > 0 && w.From != "" && w.Need() > w.Window }

// String describes the estimate against the window.
func (w WindowEstimate) String() string {
	if w.From == "" {
		return fmt.Sprintf("window %s, not started by any step (no drain or restart)", w.Window)
	}
	s := fmt.Sprintf("window %s, estimate %s from %s: steps %s, a rollback %s", w.Window, round(w.Need()), w.From, round(w.Steps), round(w.Rollback))
	if w.Unknown > 0 {
		s += fmt.Sprintf("; %s without a timeout or a recorded duration counted as 0", plural(w.Unknown, "step"))
	}
	return s
}

// EstimateWindow estimates the window p needs, from the durations recorded
// by earlier runs (nil: none) and the steps' timeouts.
func EstimateWindow(p *plan.Plan, durations checkpoint.Durations) WindowEstimate {
	e := &execution{plan: p, durations: durations}
	w := WindowEstimate{Window: p.Window}
	first := -1
	for i, s := range p.Steps {
		if s.Info.Downtime {
			first = i
			break
		}
	}
	if first < 0 {
		return w
	}
	w.From = p.Steps[first].ID
	for _, s := range p.Steps[first:] {
		d := e.estimate(s)
		if d == 0 {
			w.Unknown++
		}
		w.Steps += d
	}
	last := len(p.Steps) - 1
	if pnr := p.Step(p.PointOfNoReturn); pnr != nil {
		for i, s := range p.Steps {
			if s == pnr {
				last = i
			}
		}
	}
	for _, s := range p.Steps[:last+1] {
		switch s.Info.Kind {
		case steps.KindChange, steps.KindDrain:
			w.Rollback += durations["undo:"+s.ID]
		case steps.KindRedo:
			w.Rollback += e.estimate(s)
		}
	}
	return w
}

// checkWindowEstimate refuses a plan whose window is shorter than its own
// estimate, unless the operator said --ignore-window.
func (e *execution) checkWindowEstimate() error {
	if e.opts.IgnoreWindow {
		return nil
	}
	if w := EstimateWindow(e.plan, e.durations); w.Over() {
		return fmt.Errorf("%w: %s, over by %s (lengthen the window, or run with --ignore-window)", ErrWindow, w, round(w.Need()-w.Window))
	}
	return nil
}
