package engine

import (
	"fmt"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/event"
	"github.com/cutover/cutover/plan"
)

// Resolutions an operator can give for a step a crash left started.
const (
	ResolveDone  = "done"  // the operator checked that the step completed
	ResolveRerun = "rerun" // run the step again
)

// resumeDecision settles a step that a previous process left started or
// failed. An idempotent step runs again; any other stops the run with the
// operator's choices, unless --resolve settled it. If the operator marked it
// done, rec is marked done and the caller moves on.
func (e *execution) resumeDecision(s *plan.Step, rec *checkpoint.StepState) (Result, bool) {
	switch e.opts.Resolve[s.ID] {
	case ResolveDone:
		rec.Status = checkpoint.StatusDone
		rec.Summary = "marked done by the operator (--resolve)"
		if s.ID == e.plan.PointOfNoReturn {
			e.st.PastPointOfNoReturn = true
		}
		_ = e.saveStep(s.ID) // noted: a failure stops the run before the step
		e.emit(event.Event{Type: event.StepDone, Step: s.ID, Status: ResolveDone, Message: rec.Summary})
		return Result{}, false
	case ResolveRerun:
		e.emit(event.Event{Type: event.Notice, Step: s.ID, Message: "running the interrupted step again (--resolve " + s.ID + "=rerun)"})
		return Result{}, false
	}
	if s.Info.Idempotent {
		e.emit(event.Event{Type: event.Notice, Step: s.ID, Message: fmt.Sprintf("step was %s by the previous process; it is safe to re-run, running it again", rec.Status)})
		return Result{}, false
	}
	e.st.Phase = checkpoint.PhaseStopped
	e.st.Error = fmt.Sprintf("step %s was left %s by the previous process, and %s steps are not safe to run twice", s.ID, rec.Status, s.Type)
	e.record()
	e.emit(event.Event{Type: event.RunEnd, Status: string(checkpoint.PhaseStopped), Step: s.ID, Message: e.st.Error})
	next := fmt.Sprintf("check what %s did, then choose one:\n  %s\n  %s\n  %s", s.ID,
		e.cmd("run", "it completed", "--resolve", s.ID+"="+ResolveDone),
		e.cmd("run", "run it again", "--resolve", s.ID+"="+ResolveRerun),
		e.cmd("rollback", "undo the run"))
	return Result{Outcome: Stopped, State: e.st, Err: fmt.Errorf("%w: %s", ErrNeedsDecision, e.st.Error), Next: next}, true
}
