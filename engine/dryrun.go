package engine

import (
	"context"
	"fmt"

	"github.com/cutover/cutover/internal/event"
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
	var out []StepPlan
	failed := 0
	for _, s := range p.Steps {
		rt := &runtime{e: e, step: s, dryRun: true}
		var actions []steps.Action
		err := protect(func() error {
			var err error
			actions, err = s.Impl.Plan(ctx, rt)
			return err
		})
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
	return out, nil
}
