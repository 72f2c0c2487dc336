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

func (e *execution) remaining(i int) time.Duration {
	var total time.Duration
	for _, s := range e.plan.Steps[i:] {
		if rec := e.st.Step(s.ID); rec != nil && (rec.Status == checkpoint.StatusDone || rec.Status == checkpoint.StatusSkipped) {
			continue
		}
		total += e.estimate(s)
	}
	return total
}

// rollbackEstimate is the expected duration of a rollback after steps 0..i:
// recorded compensation times for changes and drains, step estimates for the
// restarts and checks redone.
func (e *execution) rollbackEstimate(i int) time.Duration {
	var total time.Duration
	for j, s := range e.plan.Steps[:i+1] {
		rec := e.st.Step(s.ID)
		if j < i && (rec == nil || !rollback.Touched(*rec)) {
			continue
		}
		switch s.Info.Kind {
		case steps.KindChange, steps.KindDrain:
			total += e.durations["undo:"+s.ID]
		case steps.KindRedo:
			total += e.estimate(s)
		}
	}
	return total
}
