package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

func rollbackCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "roll back the run in the checkpoint, or continue a rollback that stopped (idempotent)",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(), stateURLFlag(), identityFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "accept-data-loss", Usage: "roll back even after the point of no return"},
			&cli.BoolFlag{Name: "yes", Usage: "approve every approve step without asking"},
			&cli.StringSliceFlag{Name: "overwrite", Usage: "a file the rollback stopped on: put back its original, losing what changed since the step: `STEP=PATH` (repeatable)"},
			&cli.StringSliceFlag{Name: "keep", Usage: "a file the rollback stopped on: leave it as it is and mark it resolved: `STEP=PATH` (repeatable)"},
		),
		Action: func(c *cli.Context) error {
			// inputs may be missing: the engine refuses only those the
			// remaining compensations use (engine.checkRollbackInputs)
			p, err := loadPlan(c, e, true)
			if err != nil {
				return err
			}
			decisions, err := parseDecisions(c, p)
			if err != nil {
				return err
			}
			if _, st, err := loadState(c, p); err != nil {
				return err
			} else if st == nil {
				// Say where cutover looked (a mistyped --state finds
				// nothing), and create nothing there.
				return execute(c, e, p, func(_ context.Context, opts engine.Options) engine.Result {
					opts.Events.Emit(event.Event{Time: time.Now().UTC(), Type: event.Notice,
						Message: fmt.Sprintf("no checkpoint for plan %q in %s: nothing has run, nothing to roll back", p.Name, stateDirShown(c, p))})
					return engine.Result{Outcome: engine.Completed}
				})
			}
			store, err := openStore(c, p)
			if err != nil {
				return err
			}
			if err := attachRunLog(c, e, p, store); err != nil {
				return err
			}
			return execute(c, e, p, func(ctx context.Context, opts engine.Options) engine.Result {
				opts.Store, opts.AcceptDataLoss, opts.Decisions = store, c.Bool("accept-data-loss"), decisions
				return engine.Rollback(ctx, p, opts)
			})
		},
	}
}

// parseDecisions reads --overwrite and --keep STEP=PATH: STEP a step of the
// plan, PATH absolute, as the rollback that stopped printed them.
func parseDecisions(c *cli.Context, p *plan.Plan) ([]engine.Decision, error) {
	var out []engine.Decision
	seen := map[string]steps.FileChoice{}
	for _, choice := range []steps.FileChoice{steps.ChoiceOverwrite, steps.ChoiceKeep} {
		for _, v := range c.StringSlice(string(choice)) {
			id, path, ok := strings.Cut(v, "=")
			switch {
			case !ok || id == "" || path == "":
				return nil, fail(ExitUsage, fmt.Errorf("--%s %q: want STEP=PATH", choice, v), "paste the command the stopped rollback printed, e.g. --keep env.switch=/etc/default/app")
			case p.Step(id) == nil:
				return nil, fail(ExitUsage, fmt.Errorf("--%s %q: the plan has no step %s", choice, v, id), "step IDs are <type>.<name>, as `cutover status` shows them")
			case !filepath.IsAbs(path):
				return nil, fail(ExitUsage, fmt.Errorf("--%s %q: the path must be absolute", choice, v), "use the absolute path the stopped rollback printed")
			}
			key := id + "=" + filepath.Clean(path)
			if prev, dup := seen[key]; dup && prev != choice {
				return nil, fail(ExitUsage, fmt.Errorf("both --overwrite and --keep for %s", key), "choose one per file")
			}
			seen[key] = choice
			out = append(out, engine.Decision{Step: id, Path: filepath.Clean(path), Choice: choice})
		}
	}
	return out, nil
}
