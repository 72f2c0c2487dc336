package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

// StepPlan is one step's dry-run result.
type StepPlan struct {
	Step    *plan.Step
	Actions []steps.Action
	// Err is the step's preflight failure, if any.
	Err error
}

// DryRun preflights every step read-only and returns the exact actions a run
// would take, in order. It writes nothing: no state directory, no lock, no
// audit line. The error is non-nil when any preflight failed; every step is
// still planned so the operator sees all problems at once.
func DryRun(ctx context.Context, p *plan.Plan, opts Options) ([]StepPlan, error) {
	e := &execution{plan: p, opts: opts}
	if opts.Store != nil {
		e.durations, _ = opts.Store.LoadDurations() // read only: nothing is written
	}
	var out []StepPlan
	failed := 0
	for _, s := range p.Steps {
		actions, err := e.planStep(ctx, s)
		if err != nil {
			failed++
		}
		sp := StepPlan{Step: s, Actions: actions, Err: err}
		out = append(out, sp)
		ev := event.Event{Type: event.PlanStep, Step: s.ID, Kind: s.Info.Kind.String(), Actions: actions, Status: "ok"}
		if err != nil {
			ev.Status, ev.Message = "error", err.Error()
		}
		e.emit(ev)
	}
	if failed > 0 {
		return out, fmt.Errorf("preflight failed for %d of %d steps", failed, len(p.Steps))
	}
	if err := e.checkWindowEstimate(); err != nil {
		return out, err
	}
	return out, nil
}

// preflight runs every step's read-only checks before a new run starts, so a
// plan that cannot succeed (an env file differing between nodes, a target
// KMS that is unreachable, a key missing) is refused before any downtime.
func (e *execution) preflight(ctx context.Context) error {
	var failed []error
	for _, s := range e.plan.Steps {
		actions, err := e.planStep(ctx, s)
		if err == nil && !e.opts.AcceptUnverified {
			err = unverified(actions)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", s.ID, err))
			e.emit(event.Event{Type: event.PlanStep, Step: s.ID, Status: "error", Message: err.Error()})
		}
	}
	if werr := e.checkWindowEstimate(); werr != nil {
		failed = append(failed, werr)
	}
	if len(failed) > 0 {
		return &preflightError{failed: failed}
	}
	return nil
}

// preflightError is a refused preflight: "preflight failed: nothing was
// changed; " and each step's error (then the window's), joined by "; ". It
// matches ErrPreflight and every error it holds (errors.Is, errors.As), so
// the CLI finds an *httpx.EndpointError's hint in it.
type preflightError struct{ failed []error }

func (p *preflightError) Error() string {
	msgs := make([]string, len(p.failed))
	for i, err := range p.failed {
		msgs[i] = err.Error()
	}
	return ErrPreflight.Error() + ": nothing was changed; " + strings.Join(msgs, "; ")
}

func (p *preflightError) Unwrap() []error { return append([]error{ErrPreflight}, p.failed...) }

// ErrUnverified refuses a run whose preflight could not verify something
// (steps.Action.Unverified) unless the operator accepts it.
var ErrUnverified = errors.New("could not be verified")

// unverified fails a step whose actions include an unverified check.
func unverified(actions []steps.Action) error {
	for _, a := range actions {
		if a.Unverified {
			return fmt.Errorf("%w: %s", ErrUnverified, a.Summary)
		}
	}
	return nil
}

// errCannotAsk fails the preflight of a step that will ask the operator
// when the run has no way to ask.
var errCannotAsk = errors.New("asks the operator, and this run cannot ask (no terminal): pass --yes, or give the step a file to wait for")

// cannotAsk reports whether s will ask the operator (steps.Asker) and
// this run has no way to ask.
func (e *execution) cannotAsk(s *plan.Step) bool {
	a, ok := s.Impl.(steps.Asker)
	return ok && a.Asks() && e.opts.Confirm == nil
}

// DefaultPreflightTimeout bounds the preflight (Plan) of a step that sets no
// timeout, unless Options.PreflightTimeout or a shorter window says otherwise.
const DefaultPreflightTimeout = 30 * time.Second

// planAbandonGrace is how long past its deadline a step's Plan may take to
// return before the preflight stops waiting for it (a library that ignores
// its context), reporting the timeout.
const planAbandonGrace = 2 * time.Second

// preflightLimit is the deadline of s's preflight and what sets it: the
// step's timeout, else the default (or --preflight-timeout), capped by the
// window.
func (e *execution) preflightLimit(s *plan.Step) (time.Duration, string) {
	if s.Timeout > 0 {
		return s.Timeout, "the step's timeout"
	}
	limit, what := DefaultPreflightTimeout, "the default preflight deadline; --preflight-timeout changes it"
	if e.opts.PreflightTimeout > 0 {
		limit, what = e.opts.PreflightTimeout, "--preflight-timeout"
	}
	if w := e.plan.Window; w > 0 && w < limit {
		limit, what = w, "the window"
	}
	return limit, what
}

// planStep runs one step's read-only Plan within its preflight deadline, a
// panic becoming an error, and fails a step that will ask the operator when
// the run cannot ask.
func (e *execution) planStep(ctx context.Context, s *plan.Step) (actions []steps.Action, err error) {
	rt := &runtime{e: e, step: s, dryRun: true}
	limit, what := e.preflightLimit(s)
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	type planned struct {
		actions []steps.Action
		err     error
	}
	ch := make(chan planned, 1) // buffered: an abandoned Plan still returns
	go func() {
		var r planned
		r.err = protect(func() error {
			var err error
			r.actions, err = s.Impl.Plan(pctx, rt)
			return err
		})
		ch <- r
	}()
	var r planned
	select {
	case r = <-ch:
	case <-pctx.Done():
		select {
		case r = <-ch:
		case <-time.After(planAbandonGrace):
			return nil, fmt.Errorf("preflight timed out after %s (%s): %w", limit, what, pctx.Err())
		}
	}
	actions, err = r.actions, r.err
	if err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, fmt.Errorf("preflight timed out after %s (%s): %w", limit, what, err)
	}
	if err == nil && e.cannotAsk(s) {
		err = errCannotAsk
	}
	return actions, err
}
