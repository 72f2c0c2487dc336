package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/event"
)

func rollbackCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "roll back the run in the checkpoint, or continue a rollback that stopped (idempotent)",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "accept-data-loss", Usage: "roll back even after the point of no return"},
			&cli.BoolFlag{Name: "yes", Usage: "approve every approve step without asking"},
		),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, false)
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
			return execute(c, e, p, func(ctx context.Context, opts engine.Options) engine.Result {
				opts.Store, opts.AcceptDataLoss = store, c.Bool("accept-data-loss")
				return engine.Rollback(ctx, p, opts)
			})
		},
	}
}
