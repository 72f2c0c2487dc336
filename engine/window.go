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
	if w <= 0 || e.st.PastPointOfNoReturn {
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
