package engine

// Cutover's three-phase rollback (DESIGN 4.3), ordering and execution in
// one place (this file orders and sequences; rollback.go runs each
// compensation):
//
//  1. undo the changes of the steps that ran, newest first;
//  2. redo, oldest first, the restarts and checks that ran after the first
//     change, so the service comes back on its old configuration and is proven
//     healthy and able to read its data;
//  3. release the drains last, so traffic returns only to a proven service;
//  4. then clean up what is not needed to restore the service (deleting keys a
//     migration created), so an unreachable target cannot keep it down.
//
// The list of actions is computed once and stored in the checkpoint; each
// action is marked started before it runs and done or failed after. A failed
// action stops the rollback with the checkpoint naming it, and a later call
// continues from that action. Running a finished rollback again does nothing.

import (
	"context"
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

// compensate runs one compensation, action a of step s; it may set
// a.Summary. The execution's is (*execution).compensate.
type compensate func(ctx context.Context, a *checkpoint.RollbackAction, s *plan.Step) error

// actionRecorder persists the state after every change and reports
// progress. The execution implements it.
type actionRecorder interface {
	saveRollback(st *checkpoint.State)
	actionStarted(a *checkpoint.RollbackAction)
	actionFinished(a *checkpoint.RollbackAction, took time.Duration, err error)
}

// touched reports whether a step acted (or may have acted) in this run.
func touched(s checkpoint.StepState) bool {
	switch s.Status {
	case checkpoint.StatusDone, checkpoint.StatusStarted, checkpoint.StatusFailed:
		return true
	}
	return false
}

// rollbackActions computes the ordered rollback actions for a run in state
// st.
func rollbackActions(p *plan.Plan, st *checkpoint.State) []checkpoint.RollbackAction {
	var changes, redos, drains, cleanups []*plan.Step
	seenChange := false
	for _, s := range p.Steps {
		rec := st.Step(s.ID)
		if rec == nil || !touched(*rec) || (s.Rollback != nil && s.Rollback.Skip) {
			continue
		}
		if _, ok := s.Impl.(steps.Cleaner); ok {
			cleanups = append(cleanups, s)
		}
		switch rollbackKind(s) {
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
func rollbackKind(s *plan.Step) steps.Kind {
	if s.Rollback != nil && len(s.Rollback.Command) > 0 {
		return steps.KindChange
	}
	return s.Info.Kind
}

func rollbackAction(phase int, op checkpoint.RollbackOp, s *plan.Step) checkpoint.RollbackAction {
	return checkpoint.RollbackAction{Phase: phase, Op: op, Step: s.ID, Status: checkpoint.StatusPending}
}

// beginRollback records the start of a rollback in st (if one is not
// already recorded) and returns it.
func beginRollback(p *plan.Plan, st *checkpoint.State, reason string, manual bool) *checkpoint.Rollback {
	if st.Rollback == nil {
		st.Rollback = &checkpoint.Rollback{Reason: reason, Manual: manual, StartedAt: time.Now().UTC(), Actions: rollbackActions(p, st)}
	}
	st.Phase = checkpoint.PhaseRollingBack
	return st.Rollback
}

// continueRollback runs every action of st.Rollback that is not done, in
// order. It stops at the first failure, leaving that action failed and the
// phase rollback_failed; a later call retries it. On success the phase is
// rolled_back.
func continueRollback(ctx context.Context, p *plan.Plan, st *checkpoint.State, run compensate, rec actionRecorder) error {
	for {
		a := st.Rollback.NextRollbackAction()
		if a == nil {
			break
		}
		if err := runAction(ctx, p, st, a, run, rec); err != nil {
			st.Phase = checkpoint.PhaseRollbackFailed
			st.Error = p.Secrets.Redact(fmt.Sprintf("rollback stopped: phase %d %s of %s failed: %v", a.Phase, a.Op, a.Step, err))
			rec.saveRollback(st)
			return &CompensationError{Action: *a, Err: err}
		}
	}
	now := time.Now().UTC()
	st.Rollback.FinishedAt = &now
	st.Phase = checkpoint.PhaseRolledBack
	st.Error = st.Rollback.Reason
	rec.saveRollback(st)
	return nil
}

func runAction(ctx context.Context, p *plan.Plan, st *checkpoint.State, a *checkpoint.RollbackAction, run compensate, rec actionRecorder) error {
	s := p.Step(a.Step)
	if s == nil {
		return fmt.Errorf("step %s is not in the plan any more", a.Step)
	}
	now := time.Now().UTC()
	a.Status, a.StartedAt, a.FinishedAt, a.Error, a.Process = checkpoint.StatusStarted, &now, nil, "", nil
	a.Attempts++
	rec.saveRollback(st)
	rec.actionStarted(a)
	err := run(ctx, a, s)
	end := time.Now().UTC()
	a.FinishedAt = &end
	if err != nil {
		a.Status, a.Error = checkpoint.StatusFailed, p.Secrets.Redact(err.Error())
	} else {
		a.Status = checkpoint.StatusDone
	}
	rec.actionFinished(a, end.Sub(now), err)
	if err != nil {
		return err
	}
	rec.saveRollback(st)
	return nil
}

// CompensationError is a compensation that failed; the rollback stopped at
// it.
type CompensationError struct {
	Action checkpoint.RollbackAction
	Err    error
}

func (e *CompensationError) Error() string {
	return fmt.Sprintf("rollback phase %d: %s of step %s failed: %v", e.Action.Phase, e.Action.Op, e.Action.Step, e.Err)
}

// Unwrap returns the cause.
func (e *CompensationError) Unwrap() error { return e.Err }

// stepsAfterPointOfNoReturn lists the steps that ran after the point of no
// return: what a rollback now would put at risk.
func stepsAfterPointOfNoReturn(p *plan.Plan, st *checkpoint.State) []string {
	idx := p.Index(p.PointOfNoReturn)
	if idx < 0 {
		return nil
	}
	var out []string
	for _, s := range p.Steps[idx:] {
		if rec := st.Step(s.ID); rec != nil && touched(*rec) {
			out = append(out, s.ID)
		}
	}
	return out
}
