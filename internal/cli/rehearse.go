package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/plan"
)

// errWindowVerdict is the error of rehearsals whose downtime and rollback
// do not fit in the window less its margin.
var errWindowVerdict = errors.New("the rehearsals do not fit in the window")

func rehearseCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rehearse",
		Usage:     "run the plan on a staging system, roll it back on purpose from the point of no return, time both, and judge the window",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(), jsonFlag(), preflightFlag(),
			&cli.IntFlag{Name: "times", Value: 1, Usage: "rehearse `N` times, for the spread of the times measured"},
			&cli.BoolFlag{Name: "yes", Usage: "approve every approve step without asking"},
		),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, false)
			if err != nil {
				return err
			}
			n := c.Int("times")
			if n < 1 || n > 100 {
				return fail(ExitUsage, fmt.Errorf("--times %d: want 1 to 100", n), "for example --times 3")
			}
			if _, _, err := loadState(c, p); err != nil {
				return err
			}
			store, err := openStore(c, p)
			if err != nil {
				return err
			}
			if err := attachRunLog(c, e, p, store); err != nil {
				return err
			}
			return rehearse(c, e, p, store, n)
		},
	}
}

// rehearse runs n rehearsals, stopping at the first that does not finish,
// then records the longest durations measured for the window estimate and
// prints the verdict.
func rehearse(c *cli.Context, e *env, p *plan.Plan, store *checkpoint.Store, n int) error {
	out := p.Secrets.Writer(e.stdout)
	var states []*checkpoint.State
	for i := 1; i <= n; i++ {
		if !c.Bool("json") {
			fmt.Fprintf(out, "== rehearsal %d of %d\n", i, n)
		}
		var res engine.Result
		err := execute(c, e, p, func(ctx context.Context, opts engine.Options) engine.Result {
			opts.Store = store
			res = engine.Rehearse(ctx, p, opts)
			return res
		})
		if err != nil {
			return err
		}
		states = append(states, res.State)
	}
	if err := store.RecordDurations(engine.RehearsalDurations(states)); err != nil {
		return fail(ExitFailed, fmt.Errorf("record the rehearsals' durations: %w", err), "check that the state directory is writable")
	}
	v := engine.NewVerdict(p, states)
	if log := e.con.eventsLog(); log != nil {
		log.write(newVerdictLine(v))
	}
	if c.Bool("json") {
		newJSONRenderer(out).verdict(v)
	} else {
		fmt.Fprintln(out)
		for _, l := range v.Lines() {
			fmt.Fprintln(out, l)
		}
	}
	if !v.Fits() {
		return fail(ExitFailed, fmt.Errorf("%w: over by %s", errWindowVerdict, (v.Need()+v.Margin-v.Window).Round(100_000_000)),
			"lengthen the window, shorten the steps, or lower the margin; the report shows where the time goes: cutover report "+p.File)
	}
	return nil
}
