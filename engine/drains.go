package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

// reassertTimeout bounds re-applying a drain after a restart when the drain
// sets no timeout: the restarted service has that long to come up.
const reassertTimeout = 2 * time.Minute

// reassertInterval is the pause between attempts to re-apply a drain while
// the restarted service comes up. It is short because the service may
// serve traffic from the moment it is up until the drain is back (MinIO
// starts unfrozen): that window lasts at most about this long.
const reassertInterval = 25 * time.Millisecond

// drainReleaser is implemented by resume steps: the drain they release.
type drainReleaser interface{ DrainID() string }

// isRestart reports whether a step restarts the service, as its type
// declares (steps.Type.Restarts).
func isRestart(s *plan.Step) bool { return s.Info.Restarts }

// reassertDrains applies again every drain still in force after a restart:
// a restart can end a drain that lives in the service's memory (MinIO's
// freeze is lost when MinIO restarts), and traffic must come back only
// through a resume step or phase 3 of a rollback, never through a restart.
// Drains are idempotent, so re-applying one that held is harmless.
func (e *execution) reassertDrains(ctx context.Context, after *plan.Step, rollingBack bool) error {
	for _, d := range DrainsInForce(e.plan, e.st) {
		e.emit(event.Event{Type: event.StepLog, Step: d.ID, Message: fmt.Sprintf("re-applying the drain after %s (a restart can end it)", after.ID)})
		// The service may still be coming up: retry until the drain's
		// timeout (reassertTimeout if it has none).
		limit := d.Timeout
		if limit <= 0 {
			limit = reassertTimeout
		}
		apply := func(ctx context.Context) error {
			return protect(func() error { return d.Impl.Apply(ctx, e.runtime(d, rollingBack)) })
		}
		if err := steps.Retry(ctx, time.Now().Add(limit), reassertInterval, apply); err != nil {
			return fmt.Errorf("re-apply drain %s after %s: is the service running? it did not accept the drain within %s: %w", d.ID, after.ID, limit, err)
		}
	}
	return nil
}

// DrainsInForce lists p's drain steps that ran (done, or started or failed:
// a drain may hold partly) and that st does not show released: by a done
// resume step, or by a done phase-3 action of a rollback. They hold traffic
// until `resume` or a rollback releases them.
func DrainsInForce(p *plan.Plan, st *checkpoint.State) []*plan.Step {
	status := func(id string) checkpoint.Status { return stepStatus(st, id) }
	released := map[string]bool{}
	for _, s := range p.Steps {
		if r, ok := s.Impl.(drainReleaser); ok && status(s.ID) == checkpoint.StatusDone {
			released[r.DrainID()] = true
		}
	}
	if st.Rollback != nil {
		for _, a := range st.Rollback.Actions {
			if a.Op == checkpoint.OpRelease && a.Status == checkpoint.StatusDone {
				released[a.Step] = true
			}
		}
	}
	var out []*plan.Step
	for _, s := range p.Steps {
		ran := status(s.ID) == checkpoint.StatusDone || status(s.ID) == checkpoint.StatusStarted || status(s.ID) == checkpoint.StatusFailed
		if s.Info.Kind == steps.KindDrain && !released[s.ID] && ran {
			out = append(out, s)
		}
	}
	return out
}

func (e *execution) status(id string) checkpoint.Status { return stepStatus(e.st, id) }

// stepStatus is the status st records for step id; "" if none.
func stepStatus(st *checkpoint.State, id string) checkpoint.Status {
	if rec := st.Step(id); rec != nil {
		return rec.Status
	}
	return ""
}
