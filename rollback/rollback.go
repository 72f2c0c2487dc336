// Package rollback sequences cutover's three-phase rollback (DESIGN 4.3):
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
// This package decides what runs and in what order; the engine runs it.
package rollback

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

// ErrNothingToRollBack means the checkpoint has no run to roll back.
var ErrNothingToRollBack = errors.New("nothing to roll back")

// Executor runs one compensation. The engine implements it.
type Executor interface {
	// Run performs action a on step; it may set a.Summary.
	Run(ctx context.Context, a *checkpoint.RollbackAction, step *plan.Step) error
}

// Recorder persists the state after every change and reports progress.
type Recorder interface {
	Save(st *checkpoint.State) error
	ActionStarted(a *checkpoint.RollbackAction)
	ActionFinished(a *checkpoint.RollbackAction, took time.Duration, err error)
}

// Touched reports whether a step acted (or may have acted) in this run.
func Touched(s checkpoint.StepState) bool {
	switch s.Status {
	case checkpoint.StatusDone, checkpoint.StatusStarted, checkpoint.StatusFailed:
		return true
	}
	return false
}

// Actions computes the ordered rollback actions for a run in state st.
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
		out = append(out, action(1, checkpoint.OpUndo, changes[i]))
	}
	for _, s := range redos {
		out = append(out, action(2, checkpoint.OpRedo, s))
	}
	for i := len(drains) - 1; i >= 0; i-- {
		out = append(out, action(3, checkpoint.OpRelease, drains[i]))
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		out = append(out, action(4, checkpoint.OpCleanup, cleanups[i]))
	}
	return out
}

// kind is the step's rollback role; a rollback command override makes any
// step a change whose undo is that command.
func kind(s *plan.Step) steps.Kind {
	if s.Rollback != nil && len(s.Rollback.Command) > 0 {
		return steps.KindChange
	}
	return s.Info.Kind
}

func action(phase int, op checkpoint.RollbackOp, s *plan.Step) checkpoint.RollbackAction {
	return checkpoint.RollbackAction{Phase: phase, Op: op, Step: s.ID, Status: checkpoint.StatusPending}
}

// Begin records the start of a rollback in st (if one is not already
// recorded) and returns it.
func Begin(p *plan.Plan, st *checkpoint.State, reason string, manual bool) *checkpoint.Rollback {
	if st.Rollback == nil {
		st.Rollback = &checkpoint.Rollback{Reason: reason, Manual: manual, StartedAt: time.Now().UTC(), Actions: Actions(p, st)}
	}
	st.Phase = checkpoint.PhaseRollingBack
	return st.Rollback
}

// Continue runs every action of st.Rollback that is not done, in order. It
// stops at the first failure, leaving that action failed and the phase
// rollback_failed; a later Continue retries it. On success the phase is
// rolled_back.
func Continue(ctx context.Context, p *plan.Plan, st *checkpoint.State, ex Executor, rec Recorder) error {
	for {
		a := st.Rollback.NextRollbackAction()
		if a == nil {
			break
		}
		if err := runAction(ctx, p, st, a, ex, rec); err != nil {
			st.Phase = checkpoint.PhaseRollbackFailed
			st.Error = p.Secrets.Redact(fmt.Sprintf("rollback stopped: phase %d %s of %s failed: %v", a.Phase, a.Op, a.Step, err))
			if serr := rec.Save(st); serr != nil {
				return errors.Join(err, serr)
			}
			return &ActionError{Action: *a, Err: err}
		}
	}
	now := time.Now().UTC()
	st.Rollback.FinishedAt = &now
	st.Phase = checkpoint.PhaseRolledBack
	st.Error = st.Rollback.Reason
	return rec.Save(st)
}

func runAction(ctx context.Context, p *plan.Plan, st *checkpoint.State, a *checkpoint.RollbackAction, ex Executor, rec Recorder) error {
	s := p.Step(a.Step)
	if s == nil {
		return fmt.Errorf("step %s is not in the plan any more", a.Step)
	}
	now := time.Now().UTC()
	a.Status, a.StartedAt, a.FinishedAt, a.Error, a.Process = checkpoint.StatusStarted, &now, nil, "", nil
	a.Attempts++
	if err := rec.Save(st); err != nil {
		return err
	}
	rec.ActionStarted(a)
	err := ex.Run(ctx, a, s)
	end := time.Now().UTC()
	a.FinishedAt = &end
	if err != nil {
		a.Status, a.Error = checkpoint.StatusFailed, p.Secrets.Redact(err.Error())
	} else {
		a.Status = checkpoint.StatusDone
	}
	rec.ActionFinished(a, end.Sub(now), err)
	if err != nil {
		return err
	}
	return rec.Save(st)
}

// ActionError is a compensation that failed.
type ActionError struct {
	Action checkpoint.RollbackAction
	Err    error
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("rollback phase %d: %s of step %s failed: %v", e.Action.Phase, e.Action.Op, e.Action.Step, e.Err)
}

// Unwrap returns the cause.
func (e *ActionError) Unwrap() error { return e.Err }

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
