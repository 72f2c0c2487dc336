package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/rollback"
	"github.com/cutover/cutover/steps"
)

// Rollback rolls back the run recorded in the checkpoint by hand (`cutover
// rollback`), or continues a rollback that stopped. After the point of no
// return it refuses unless opts.AcceptDataLoss is set. A finished rollback is
// a no-op.
func Rollback(ctx context.Context, p *plan.Plan, opts Options) (r Result) {
	e := &execution{plan: p, opts: opts, store: opts.Store}
	if err := e.acquire("rollback"); err != nil {
		return Result{Outcome: Failed, Err: err, Next: e.unlockHint(err)}
	}
	defer func() { e.flush(); r = e.release(e.finish(r)) }()
	st, err := e.store.Load()
	if errors.Is(err, checkpoint.ErrNoState) {
		e.emit(event.Event{Type: event.Notice, Message: "no checkpoint: nothing has run, nothing to roll back"})
		return Result{Outcome: Completed}
	}
	if err != nil {
		return Result{Outcome: Failed, Err: err}
	}
	e.st = st
	if st.Phase == checkpoint.PhaseRolledBack {
		e.emit(event.Event{Type: event.Notice, Message: fmt.Sprintf("run %s is already rolled back (%s); nothing to do", st.RunID, st.Rollback.FinishedAt.Format(time.RFC3339))})
		return Result{Outcome: Completed, State: st}
	}
	if r, stop := e.liveCommand(e.cmd("rollback", "")); stop {
		return r
	}
	if st.PastPointOfNoReturn && !opts.AcceptDataLoss && (st.Rollback == nil || !st.Rollback.Manual) {
		return e.refuseDataLoss(ctx)
	}
	if err := e.recordDecisions(); err != nil {
		return Result{Outcome: Failed, State: st, Err: err, Next: e.cmd("rollback", "shows the files it stops on and the choices")}
	}
	if err := e.checkRollbackInputs(); err != nil {
		return Result{Outcome: Failed, State: st, Err: err, Next: e.cmd("rollback", "add the inputs named above")}
	}
	if e.st.PlanHash != e.plan.Hash || (len(e.plan.Missing()) == 0 && e.checkUnchanged() != nil) {
		e.emit(event.Event{Type: event.Notice, Message: "the plan or its inputs changed since the run; rolling back with the current plan's compensations"})
	}
	return e.rollback(ctx, "rollback requested by the operator", true)
}

func (e *execution) refuseDataLoss(ctx context.Context) Result {
	after := rollback.StepsAfterPointOfNoReturn(e.plan, e.st)
	msg := fmt.Sprintf("run %s is past the point of no return (%s): data written since then under the new configuration would become unreadable after a rollback", e.st.RunID, e.plan.PointOfNoReturn)
	if len(after) > 0 {
		msg += "; steps since then: " + strings.Join(after, ", ")
	}
	if atRisk := e.dataAtRisk(ctx, after); atRisk != "" {
		msg += "; " + atRisk
	}
	e.emit(event.Event{Type: event.Notice, Status: "refused", Message: msg})
	return Result{Outcome: Failed, State: e.st, Err: fmt.Errorf("%w: %s", rollback.ErrPastPointOfNoReturn, msg),
		Next: e.cmd("rollback", "only if losing that data is acceptable", "--accept-data-loss")}
}

// autoRollback rolls back after cause, on a context that the run's
// cancellation does not end: an interrupted run still restores the service.
func (e *execution) autoRollback(ctx context.Context, cause error) Result {
	e.st.Error = e.plan.Secrets.Redact(cause.Error())
	r := e.rollback(context.WithoutCancel(ctx), e.st.Error, false)
	if r.Outcome == Completed {
		r.Outcome = RolledBack
		r.Err = cause
		r.Next = e.cmd("status", "what ran and what was undone") + "\n" + e.cmd("run", "a new run, once the cause is fixed")
	}
	return r
}

func (e *execution) rollback(ctx context.Context, reason string, manual bool) Result {
	seq := rollback.Begin(e.plan, e.st, reason, manual)
	e.record() // a rollback goes on from memory when the state cannot be saved
	e.emit(event.Event{Type: event.RollbackStart, Message: fmt.Sprintf("%s; %s", reason, plural(len(seq.Record().Actions), "compensation"))})
	err := e.compensations(ctx, seq)
	if err != nil {
		e.emit(event.Event{Type: event.RollbackEnd, Status: "failed", Message: err.Error()})
		next := e.cmd("rollback", "after fixing the cause; it continues from the failed compensation")
		if e.conflict != nil {
			next = e.conflictHint(e.conflict)
		}
		return Result{Outcome: RollbackFailed, State: e.st, Err: err, Next: next}
	}
	e.emit(event.Event{Type: event.RollbackEnd, Status: "done", Message: "rolled back"})
	return Result{Outcome: Completed, State: e.st, Next: e.cmd("status", "")}
}

// compensations runs every action seq hands out, in its order, saving the
// state before and after each; it stops at the first failure, which seq
// records (a *rollback.CompensationError).
func (e *execution) compensations(ctx context.Context, seq *rollback.Sequence) error {
	for {
		a, s, err := seq.Next()
		if a == nil {
			seq.Complete()
			e.saveRollback()
			return nil
		}
		var took time.Duration
		if err == nil {
			e.saveRollback()
			e.actionStarted(a)
			start := time.Now()
			err = e.compensate(ctx, a, s)
			took = time.Since(start)
		}
		stop := seq.Finish(a, err)
		if s != nil {
			e.actionFinished(a, took, err)
		}
		e.saveRollback()
		if stop != nil {
			return stop
		}
	}
}

// compensate runs one compensation of a rollback, action a of step s; it
// may set a.Summary.
func (e *execution) compensate(ctx context.Context, a *checkpoint.RollbackAction, s *plan.Step) error {
	rt := e.runtime(s, true)
	rt.action = a
	ctx = command.WithTracker(ctx, rt)
	switch {
	case a.Op == checkpoint.OpRedo:
		if err := e.attempts(ctx, s, rt); err != nil || !isRestart(s) {
			return err
		}
		return e.reassertDrains(ctx, s, true)
	case a.Op == checkpoint.OpCleanup:
		c, ok := s.Impl.(steps.Cleaner)
		if !ok {
			return fmt.Errorf("step %s has no cleanup", s.ID)
		}
		return protect(func() error { return c.Cleanup(ctx, rt) })
	case s.Rollback != nil && len(s.Rollback.Command) > 0 && !runsOwnRollback(s):
		return command.Run(ctx, command.Spec{Argv: s.Rollback.Command, Secret: s.Rollback.Secret, Env: command.EnvList(s.Rollback.Env), Dir: e.plan.Dir, Output: rt.Output(), Secrets: e.plan.Secrets})
	default:
		err := e.undo(ctx, s, rt)
		e.noteConflict(a, err)
		return err
	}
}

// runsOwnRollback reports whether the step runs its rollback command
// itself (a step on hosts runs it on each node).
func runsOwnRollback(s *plan.Step) bool {
	rc, ok := s.Impl.(steps.RollbackCommander)
	return ok && rc.RunsRollbackCommand()
}

func (e *execution) undo(ctx context.Context, s *plan.Step, rt *runtime) error {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	return protect(func() error { return s.Impl.Undo(ctx, rt) })
}

// saveRollback saves the state during a rollback. A failure is noted, not
// returned: a compensation is never stopped by the state directory, and
// finish writes the state in memory to the fallback file.
func (e *execution) saveRollback() {
	_ = e.noteWrite(e.store.Save(e.st)) // noted: finish reports it
}

// actionStarted reports a compensation that starts.
func (e *execution) actionStarted(a *checkpoint.RollbackAction) {
	e.emit(event.Event{Type: event.RollbackAction, Step: a.Step, Phase: a.Phase, Op: string(a.Op), Status: "started"})
}

// actionFinished reports a compensation that ended and measures it.
func (e *execution) actionFinished(a *checkpoint.RollbackAction, took time.Duration, err error) {
	ev := event.Event{Type: event.RollbackAction, Step: a.Step, Phase: a.Phase, Op: string(a.Op), Status: "done", Elapsed: took}
	if err != nil {
		ev.Status, ev.Message = "failed", err.Error()
		if a.Summary != "" {
			ev.Message += " (" + a.Summary + ")"
		}
	} else {
		ev.Message = a.Summary
		key := "undo:" + a.Step
		if a.Op == checkpoint.OpRedo {
			key = a.Step
		}
		e.measure(key, took)
	}
	e.emit(ev)
}

var _ steps.Runtime = (*runtime)(nil)

// dataAtRisk asks the steps since the point of no return what data a
// rollback would make unreadable.
func (e *execution) dataAtRisk(ctx context.Context, ids []string) string {
	var parts []string
	for _, id := range ids {
		lr, ok := e.plan.Step(id).Impl.(steps.LossReporter)
		if !ok {
			continue
		}
		items, err := lr.DataAtRisk(ctx)
		switch {
		case err != nil:
			parts = append(parts, fmt.Sprintf("%s could not list the data at risk: %v", id, err))
		case len(items) > 0:
			parts = append(parts, "data written since then that would become unreadable: "+strings.Join(items, ", "))
		}
	}
	return strings.Join(parts, "; ")
}
