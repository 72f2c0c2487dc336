// Package rollback is cutover's three-phase rollback (DESIGN 4.3): which
// compensations a run's rollback takes, in which order, and what each
// outcome does to the checkpoint state. It is the one home of that policy;
// the engine only carries out the action this package hands it.
//
//  1. undo the changes of the steps that ran, newest first;
//  2. redo, oldest first, the restarts and checks that ran after the first
//     change, so the service comes back on its old configuration and is proven
//     healthy and able to read its data;
//  3. release the drains last, so traffic returns only to a proven service;
//  4. then clean up what is not needed to restore the service (deleting keys a
//     migration created), so an unreachable target cannot keep it down.
//
// The list of actions is computed once and stored in the checkpoint (Begin);
// a Sequence hands out each action not yet done, marked started, and records
// its outcome (Next, Finish). A failed action stops the rollback with the
// checkpoint naming it, and a later Sequence continues from that action.
// Running a finished rollback again does nothing. Nothing here calls back
// into the engine: the caller runs each compensation between Next and
// Finish and saves the state after each call.
package rollback

import (
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

// ErrPastPointOfNoReturn means a rollback was asked for after the point of no
// return without accepting the data loss.
var ErrPastPointOfNoReturn = errors.New("past the point of no return")

// Touched reports whether a step acted (or may have acted) in this run: it
// is done, started or failed.
func Touched(s checkpoint.StepState) bool {
	switch s.Status {
	case checkpoint.StatusDone, checkpoint.StatusStarted, checkpoint.StatusFailed:
		return true
	}
	return false
}

// Actions computes the ordered rollback actions for a run in state st,
// every action pending.
func Actions(p *plan.Plan, st *checkpoint.State) []checkpoint.RollbackAction {
	var changes, redos, drains, cleanups []*plan.Step
	seenChange := false
	for _, s := range p.Steps {
		rec := st.Step(s.ID)
		if rec == nil || !Touched(*rec) || (s.Rollback != nil && s.Rollback.Skip) {
			continue
		}
		if _, ok := s.Impl.(steps.Cleaner); ok {
			cleanups = append(cleanups, s)
		}
		switch kind(s) {
		case steps.KindChange:
			changes = append(changes, s)
			seenChange = true
		case steps.KindRedo:
			if seenChange {
				redos = append(redos, s)
			}
		case steps.KindDrain:
			drains = append(drains, s)
		}
	}
	var out []checkpoint.RollbackAction
	for i := len(changes) - 1; i >= 0; i-- {
		out = append(out, rollbackAction(1, checkpoint.OpUndo, changes[i]))
	}
	for _, s := range redos {
		out = append(out, rollbackAction(2, checkpoint.OpRedo, s))
	}
	for i := len(drains) - 1; i >= 0; i-- {
		out = append(out, rollbackAction(3, checkpoint.OpRelease, drains[i]))
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		out = append(out, rollbackAction(4, checkpoint.OpCleanup, cleanups[i]))
	}
	return out
}

// rollbackKind is the step's rollback role; a rollback command override
// makes any step a change whose undo is that command.
func kind(s *plan.Step) steps.Kind {
	if s.Rollback != nil && len(s.Rollback.Command) > 0 {
		return steps.KindChange
	}
	return s.Info.Kind
}

func rollbackAction(phase int, op checkpoint.RollbackOp, s *plan.Step) checkpoint.RollbackAction {
	return checkpoint.RollbackAction{Phase: phase, Op: op, Step: s.ID, Status: checkpoint.StatusPending}
}

// Sequence is a rollback in progress over a run's state: it hands out the
// actions not yet done, in order, and records their outcomes in the state.
// It is not safe for concurrent use; the caller saves the state after
// every call that changes it (Next, Finish, Complete).
type Sequence struct {
	plan  *plan.Plan
	state *checkpoint.State
}

// Begin records the start of a rollback in st, with its actions computed
// by Actions, unless one is already recorded (a stopped or finished
// rollback keeps its record and its reason), sets the phase to rolling
// back, and returns the sequence that continues it.
func Begin(p *plan.Plan, st *checkpoint.State, reason string, manual bool) *Sequence {
	if st.Rollback == nil {
		st.Rollback = &checkpoint.Rollback{Reason: reason, Manual: manual, StartedAt: time.Now().UTC(), Actions: Actions(p, st)}
	}
	st.Phase = checkpoint.PhaseRollingBack
	return &Sequence{plan: p, state: st}
}

// Record is the rollback recorded in the state.
func (q *Sequence) Record() *checkpoint.Rollback { return q.state.Rollback }

// Next returns the first action not done and its step, the action marked
// started (its attempt counted, its last error cleared), or a nil action
// when none is left. When the action's step is no longer in the plan it
// returns the action unmarked and an error: the caller passes that error to
// Finish without running anything.
func (q *Sequence) Next() (*checkpoint.RollbackAction, *plan.Step, error) {
	a := q.state.Rollback.NextRollbackAction()
	if a == nil {
		return nil, nil, nil
	}
	s := q.plan.Step(a.Step)
	if s == nil {
		return a, nil, fmt.Errorf("step %s is not in the plan any more", a.Step)
	}
	now := time.Now().UTC()
	a.Status, a.StartedAt, a.FinishedAt, a.Error, a.Process = checkpoint.StatusStarted, &now, nil, "", nil
	a.Attempts++
	return a, s, nil
}

// Finish records the outcome of action a, handed out by Next. A failure
// (err not nil) marks the action failed and the phase rollback_failed, with
// the error masked by the plan's secrets, and returns a *CompensationError:
// the rollback stops there and a later Sequence retries the action.
func (q *Sequence) Finish(a *checkpoint.RollbackAction, err error) error {
	end := time.Now().UTC()
	a.FinishedAt = &end
	if err == nil {
		a.Status = checkpoint.StatusDone
		return nil
	}
	a.Status, a.Error = checkpoint.StatusFailed, q.plan.Secrets.Redact(err.Error())
	q.state.Phase = checkpoint.PhaseRollbackFailed
	q.state.Error = q.plan.Secrets.Redact(fmt.Sprintf("rollback stopped: phase %d %s of %s failed: %v", a.Phase, a.Op, a.Step, err))
	return &CompensationError{Action: *a, Err: err}
}

// Complete marks the rollback finished (phase rolled_back, the state's
// error the rollback's reason); call it once Next returns no action.
func (q *Sequence) Complete() {
	now := time.Now().UTC()
	q.state.Rollback.FinishedAt = &now
	q.state.Phase = checkpoint.PhaseRolledBack
	q.state.Error = q.state.Rollback.Reason
}

// CompensationError is a compensation that failed; the rollback stopped at
// it (Sequence.Finish).
type CompensationError struct {
	Action checkpoint.RollbackAction
	Err    error
}

func (e *CompensationError) Error() string {
	return fmt.Sprintf("rollback phase %d: %s of step %s failed: %v", e.Action.Phase, e.Action.Op, e.Action.Step, e.Err)
}

// Unwrap returns the cause.
func (e *CompensationError) Unwrap() error { return e.Err }

// StepsAfterPointOfNoReturn lists the steps that ran after the point of no
// return: what a rollback now would put at risk.
func StepsAfterPointOfNoReturn(p *plan.Plan, st *checkpoint.State) []string {
	idx := p.Index(p.PointOfNoReturn)
	if idx < 0 {
		return nil
	}
	var out []string
	for _, s := range p.Steps[idx:] {
		if rec := st.Step(s.ID); rec != nil && Touched(*rec) {
			out = append(out, s.ID)
		}
	}
	return out
}
