package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/faultpoint"
	"github.com/cutover/cutover/internal/shellquote"
	"github.com/cutover/cutover/plan"
)

// Run executes p. With no checkpoint it starts a new run; with one it resumes
// after the last done step if the plan and inputs are unchanged (DESIGN 4.2).
// A step failure before the point of no return triggers the rollback.
func Run(ctx context.Context, p *plan.Plan, opts Options) (r Result) {
	e := &execution{plan: p, opts: opts, store: opts.Store}
	if err := e.acquire("run"); err != nil {
		return Result{Outcome: Failed, Err: err, Next: e.unlockHint(err)}
	}
	defer func() { e.flush(); r = e.release(e.finish(r)) }()
	if r, stop := e.prepareRun(ctx); stop {
		return r
	}
	return e.runSteps(ctx)
}

func (e *execution) acquire(op string) error {
	e.lock = checkpoint.NewLockInfo(op, e.plan.Name)
	if faultpoint.Armed() {
		faultpoint.FillDir(e.store.Dir())
	}
	if err := e.store.Lock(e.lock); err != nil {
		return err
	}
	d, err := e.store.LoadDurations()
	if err != nil {
		d = checkpoint.Durations{}
	}
	e.durations = d
	return nil
}

// release removes the lock; when it cannot, r says how to remove it later.
func (e *execution) release(r Result) Result {
	if err := e.store.Unlock(e.lock.ID); err != nil {
		r.Err = joinErr(r.Err, fmt.Errorf("the lock could not be removed: %w", err))
		if r.Outcome == Completed {
			r.Outcome = Failed
		}
		if e.store.Shared() != "" {
			r.Next = strings.TrimPrefix(r.Next+"\n", "\n") + shellquote.Join(e.opts.command(), "unlock", e.lock.ID, e.plan.File) +
				"   # from another directory once the store is back; a run or rollback from this one takes the lock back itself"
			return r
		}
		r.Next = strings.TrimPrefix(r.Next+"\n", "\n") + shellquote.Join(e.opts.command(), "unlock", e.lock.ID, "--state", e.store.Dir()) + "   # once the state directory can be written"
	}
	return r
}

func (e *execution) unlockHint(err error) string {
	var le *checkpoint.LockedError
	if errors.As(err, &le) && e.store.Shared() != "" {
		return shellquote.Join(e.opts.command(), "unlock", le.Holder.ID, e.plan.File) + "   # only if that process is gone (the lock is in " + e.store.Shared() + ")"
	}
	if errors.As(err, &le) {
		return shellquote.Join(e.opts.command(), "unlock", le.Holder.ID, "--state", e.store.Dir()) + "   # only if that process is gone"
	}
	return ""
}

func (e *execution) planArg() string { return e.plan.File }

// prepareRun loads or creates the checkpoint; stop is true when the run must
// not proceed and r says why.
func (e *execution) prepareRun(ctx context.Context) (r Result, stop bool) {
	if err := e.checkSpace(); err != nil {
		return Result{Outcome: Failed, Err: err, Next: e.spaceHint()}, true
	}
	st, err := e.store.Load()
	if errors.Is(err, checkpoint.ErrNoState) {
		return e.startNew(ctx)
	}
	if err != nil {
		return Result{Outcome: Failed, Err: err}, true
	}
	e.st = st
	if e.opts.Rehearsal && st.Phase != checkpoint.PhaseRolledBack {
		return e.refuseRehearsal(), true
	}
	switch st.Phase {
	case checkpoint.PhaseCompleted:
		return e.alreadyCompleted(), true
	case checkpoint.PhaseRolledBack:
		dest, err := e.store.Archive()
		if err != nil {
			return Result{Outcome: Failed, Err: err}, true
		}
		e.emit(event.Event{Type: event.Notice, Message: "the previous run was rolled back; its checkpoint is archived in " + dest})
		return e.startNew(ctx)
	case checkpoint.PhaseRollingBack, checkpoint.PhaseRollbackFailed:
		return Result{Outcome: Failed, State: st, Err: fmt.Errorf("%w: %s", ErrRollbackPending, st.Error),
			Next: e.cmd("rollback", "continues the rollback from where it stopped")}, true
	}
	if r, stop := e.liveCommand(e.cmd("run", "")); stop {
		return r, true
	}
	if err := e.checkUnchanged(); err != nil {
		return Result{Outcome: Failed, State: st, Err: err, Next: "restore the plan file and the inputs of run " + st.RunID + ", then resume it:\n" +
			e.cmd("run", "") + "\nor roll it back instead, with the plan and inputs of the interrupted run:\n" + e.cmd("rollback", "")}, true
	}
	if err := e.checkCanAsk(); err != nil {
		return Result{Outcome: Failed, State: st, Err: err, Next: e.cmd("run", "or from a terminal", "--yes")}, true
	}
	e.emit(event.Event{Type: event.RunResume, Message: fmt.Sprintf("resuming run %s from its checkpoint", st.RunID)})
	return Result{}, false
}

// alreadyCompleted answers a run of a plan whose checkpoint says completed:
// nothing to do when the plan and inputs are those of the completed run;
// when they changed (an edited plan, another file with the same name, other
// inputs) it says so, and how to archive the old run, instead of claiming
// the changed plan completed.
func (e *execution) alreadyCompleted() Result {
	reset := e.cmd("reset", "archives run "+e.st.RunID+"; then run the plan again as a new run")
	if err := e.checkUnchanged(); err != nil {
		return Result{Outcome: Failed, State: e.st,
			Err:  fmt.Errorf("run %s of plan %q completed, and %w; nothing was run", e.st.RunID, e.st.Plan, err),
			Next: reset}
	}
	e.emit(event.Event{Type: event.Notice, Message: fmt.Sprintf("this plan already completed (run %s, %s); nothing to do", e.st.RunID, e.st.UpdatedAt.Format(time.RFC3339))})
	return Result{Outcome: Completed, State: e.st, Next: reset}
}

// checkCanAsk refuses to resume a run whose remaining steps would ask the
// operator when this run cannot ask (see errCannotAsk): the preflight of
// a new run checks this, a resume checks it here, before anything runs.
func (e *execution) checkCanAsk() error {
	for _, s := range e.plan.Steps {
		if e.cannotAsk(s) && e.status(s.ID) != checkpoint.StatusDone {
			return fmt.Errorf("resume refused, nothing was changed: %s %w", s.ID, errCannotAsk)
		}
	}
	return nil
}

func (e *execution) checkUnchanged() error {
	if e.st.PlanHash != e.plan.Hash {
		return fmt.Errorf("%w: the plan file's content differs from run %s's", ErrPlanChanged, e.st.RunID)
	}
	key, err := e.store.InputsKey()
	if err != nil {
		return err
	}
	if e.st.InputsMAC == "" {
		return fmt.Errorf("%w: run %s's checkpoint does not record its inputs the way this cutover does (written by an older version)", ErrPlanChanged, e.st.RunID)
	}
	if !hmac.Equal([]byte(e.st.InputsMAC), []byte(e.plan.InputsMAC(key))) {
		return fmt.Errorf("%w: the variable values differ from run %s's", ErrPlanChanged, e.st.RunID)
	}
	return nil
}

// startNew preflights every step read-only and, if all pass, records a new
// run. A failed preflight leaves no checkpoint: nothing has changed.
func (e *execution) startNew(ctx context.Context) (Result, bool) {
	if err := e.preflight(ctx); err != nil {
		return Result{Outcome: Failed, Err: err, Next: "fix what the preflight reports; this shows every step's checks:\n" + e.cmd("plan", "")}, true
	}
	now := e.opts.now()
	e.st = &checkpoint.State{
		Plan: e.plan.Name, PlanFile: e.plan.File, PlanHash: e.plan.Hash,
		RunID: randomHex(8), Phase: checkpoint.PhaseRunning, StartedAt: now, Rehearsal: e.opts.Rehearsal,
	}
	key, err := e.store.NewRunInputsKey()
	if err != nil {
		return Result{Outcome: Failed, Err: err}, true
	}
	e.st.InputsMAC = e.plan.InputsMAC(key)
	if h := e.opts.Hint; len(h.Inputs)+len(h.Sensitive) > 0 {
		e.st.Inputs = &checkpoint.Inputs{Args: h.Inputs, Sensitive: h.Sensitive}
	}
	for _, s := range e.plan.Steps {
		e.st.Steps = append(e.st.Steps, checkpoint.StepState{ID: s.ID, Status: checkpoint.StatusPending})
	}
	if err := e.save(); err != nil {
		return Result{Outcome: Failed, Err: fmt.Errorf("run refused, nothing was changed: %w: %v", ErrStateWrite, err), Next: e.spaceHint()}, true
	}
	e.emit(event.Event{Type: event.RunStart, Message: fmt.Sprintf("run %s of %s: %s", e.st.RunID, e.plan.Name, plural(len(e.plan.Steps), "step"))})
	return Result{}, false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runSteps applies the steps not yet done, in order.
func (e *execution) runSteps(ctx context.Context) Result {
	for i, s := range e.plan.Steps {
		if e.failedWrite() != nil {
			return e.onWriteFailure(ctx)
		}
		rec := e.st.Step(s.ID)
		if rec == nil {
			return Result{Outcome: Failed, Err: fmt.Errorf("step %s is missing from the checkpoint", s.ID)}
		}
		if rec.Status == checkpoint.StatusDone || rec.Status == checkpoint.StatusSkipped {
			continue
		}
		if rec.Status != checkpoint.StatusPending {
			if r, stop := e.resumeDecision(s, rec); stop {
				return r
			} else if rec.Status == checkpoint.StatusDone {
				continue
			}
		}
		if reason := e.windowExceeded(i); reason != "" {
			return e.autoRollback(ctx, fmt.Errorf("%w: %s", ErrWindow, reason))
		}
		run, err := e.evalWhen(s)
		if err == nil && !run {
			e.markSkipped(s, rec)
			continue
		}
		if err == nil {
			err = e.applyStep(ctx, s, rec)
		}
		if err == nil && isRestart(s) {
			err = e.reassertDrains(ctx, s, false)
		}
		if errors.Is(err, errNotStarted) || errors.Is(err, ErrStateWrite) && errors.Is(e.failedWrite(), checkpoint.ErrStoreUnavailable) {
			return e.onWriteFailure(ctx) // a shared store that went away: as the plan's on_unavailable says
		}
		if err != nil {
			return e.onFailure(ctx, s, err)
		}
		if e.opts.Rehearsal && s.ID == e.plan.PointOfNoReturn {
			return e.rehearsalRollback(ctx, s)
		}
	}
	if e.failedWrite() != nil {
		return e.onWriteFailure(ctx)
	}
	if e.opts.Rehearsal {
		return e.rehearsalRollback(ctx, e.plan.Steps[len(e.plan.Steps)-1])
	}
	return e.complete(ctx)
}

// complete marks the run completed; if that cannot be saved, the run is not
// complete on record, and a failed write after a change rolls it back.
func (e *execution) complete(ctx context.Context) Result {
	e.st.Phase = checkpoint.PhaseCompleted
	e.st.Error = ""
	if err := e.save(); err != nil {
		e.st.Phase = checkpoint.PhaseRunning
		return e.onWriteFailure(ctx)
	}
	e.emit(event.Event{Type: event.RunEnd, Status: string(checkpoint.PhaseCompleted), Elapsed: e.opts.now().Sub(e.st.StartedAt),
		Message: fmt.Sprintf("%s completed: %s", e.plan.Name, plural(len(e.plan.Steps), "step"))})
	return Result{Outcome: Completed, State: e.st, Next: e.cmd("status", "")}
}

func (e *execution) markSkipped(s *plan.Step, rec *checkpoint.StepState) {
	rec.Status = checkpoint.StatusSkipped
	rec.Summary = "skipped: its when condition is false"
	ev, _ := e.mark(s.ID, event.Event{Type: event.StepSkip, Step: s.ID, Message: rec.Summary}) // noted: a failure stops the run before the next step
	e.display(ev)
}

// applyStep marks the step started, applies it with its timeout and retries,
// and marks it done or failed. The checkpoint is durable at each mark.
func (e *execution) applyStep(ctx context.Context, s *plan.Step, rec *checkpoint.StepState) error {
	start := e.opts.now()
	before, windowStart := *rec, e.st.WindowStart
	rec.Status, rec.StartedAt, rec.FinishedAt, rec.Error, rec.Process, rec.Retries = checkpoint.StatusStarted, &start, nil, "", nil, 0
	rec.Attempts++
	if s.Info.Downtime && e.st.WindowStart == nil {
		e.st.WindowStart = &start
	}
	ev, err := e.mark(s.ID, event.Event{Type: event.StepStart, Step: s.ID, Kind: s.Info.Kind.String()})
	if err != nil {
		*rec, e.st.WindowStart = before, windowStart // it did not act
		return fmt.Errorf("%w: %w", errNotStarted, err)
	}
	e.display(ev)
	faultpoint.Hit("after-start:" + s.ID)
	err = e.attempts(ctx, s, e.runtime(s, false))
	end := e.opts.now()
	rec.FinishedAt = &end
	if err != nil {
		rec.Status, rec.Error = checkpoint.StatusFailed, e.plan.Secrets.Redact(err.Error())
		ev, _ := e.mark(s.ID, event.Event{Type: event.StepFail, Step: s.ID, Elapsed: end.Sub(start), Message: rec.Error}) // noted: the failure rolls back either way
		e.display(ev)
		return err
	}
	rec.Status = checkpoint.StatusDone
	if s.ID == e.plan.PointOfNoReturn {
		e.st.PastPointOfNoReturn = true
	}
	ev, err = e.mark(s.ID, event.Event{Type: event.StepDone, Step: s.ID, Elapsed: end.Sub(start), Message: rec.Summary})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStateWrite, err)
	}
	e.measure(s.ID, end.Sub(start))
	e.display(ev)
	faultpoint.Hit("after-done:" + s.ID)
	return nil
}

// attempts runs the step's Apply up to 1+retries times, each under the step's
// timeout.
func (e *execution) attempts(ctx context.Context, s *plan.Step, rt *runtime) error {
	interval := s.RetryInterval
	if interval == 0 {
		interval = 5 * time.Second
	}
	ctx = command.WithTracker(ctx, rt)
	var err error
	for attempt := 1; attempt <= 1+s.Retries; attempt++ {
		err = e.attemptOnce(ctx, s, rt)
		if err == nil || ctx.Err() != nil || attempt > s.Retries {
			return err
		}
		e.countRetry(s, rt)
		e.emit(event.Event{Type: event.StepRetry, Step: s.ID, Attempt: attempt + 1,
			Message: fmt.Sprintf("attempt %d of %d failed: %v; retrying in %s", attempt, 1+s.Retries, err, interval)})
		select {
		case <-ctx.Done():
			return err
		case <-time.After(interval):
		}
	}
	return err
}

// countRetry records a retry on the step's record, or on the rollback
// action rt serves; it becomes durable with the next mark or save.
func (e *execution) countRetry(s *plan.Step, rt *runtime) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.action != nil {
		rt.action.Retries++
	} else if rec := e.st.Step(s.ID); rec != nil {
		rec.Retries++
	}
}

func (e *execution) attemptOnce(ctx context.Context, s *plan.Step, rt *runtime) error {
	if s.Timeout <= 0 {
		return protect(func() error { return s.Impl.Apply(ctx, rt) })
	}
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	err := protect(func() error { return s.Impl.Apply(sctx, rt) })
	if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("timed out after %s: %w", s.Timeout, err)
	}
	return err
}

// protect turns a panic in a step into an error, so the engine can still
// checkpoint and roll back.
func protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error (panic): %v", r)
		}
	}()
	return fn()
}

// onFailure decides what a failed step leads to: the automatic rollback
// before the point of no return, a stop after it.
func (e *execution) onFailure(ctx context.Context, s *plan.Step, cause error) Result {
	if e.st.PastPointOfNoReturn {
		e.st.Phase = checkpoint.PhaseFailed
		e.st.Error = e.plan.Secrets.Redact(fmt.Sprintf("step %s failed after the point of no return (%s): %v", s.ID, e.plan.PointOfNoReturn, cause))
		e.record()
		e.emit(event.Event{Type: event.RunEnd, Status: string(checkpoint.PhaseFailed), Message: "no automatic rollback after the point of no return: data written since then would become unreadable"})
		return Result{Outcome: Failed, State: e.st, Err: fmt.Errorf("step %s: %w", s.ID, cause),
			Next: "fix the cause, then retry the step:\n" + e.cmd("run", "") + "\n" + e.cmd("rollback", "only if losing the data written since then is acceptable", "--accept-data-loss")}
	}
	return e.autoRollback(ctx, fmt.Errorf("step %s: %w", s.ID, cause))
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
