package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

func planCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "dry run: preflight every system read-only and print the exact ordered actions",
		ArgsUsage: "PLAN",
		Flags:     append(varFlags(), jsonFlag(), preflightFlag(), ignoreWindowFlag()),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, false)
			if err != nil {
				return err
			}
			return dryRun(c, e, p)
		},
	}
}

// previewNeverAsks is the Confirm of `cutover plan`, which runs no step.
func previewNeverAsks(context.Context, string) (bool, error) {
	return false, errors.New("cutover plan asks nothing")
}

// dryRun is `cutover plan` and `cutover run --dry-run`: it writes nothing.
// A rehearsal checks that approve steps can be asked as the run would ask
// them (a terminal, or --yes); `cutover plan` previews the plan, however
// it will be run.
func dryRun(c *cli.Context, e *env, p *plan.Plan) error {
	out := p.Secrets.Writer(e.stdout)
	opts := engine.Options{Confirm: previewNeverAsks, PreflightTimeout: c.Duration("preflight-timeout"), IgnoreWindow: c.Bool("ignore-window")}
	if store, _, err := loadState(c, p); err == nil && store != nil {
		opts.Store = store // read only: the durations earlier runs recorded, for the window estimate
	}
	if c.Command.Name == "run" {
		opts.Confirm = confirmer(c, e)
	}
	var js *jsonRenderer
	if c.Bool("json") {
		js = newJSONRenderer(out)
		opts.Events = js
	}
	plans, err := engine.DryRun(c.Context, p, opts)
	switch {
	case js != nil && err != nil:
		js.result("preflight_failed", ExitFailed, err, "")
	case js != nil:
		js.result("planned", ExitOK, nil, "cutover run "+p.File)
	default:
		printPlan(out, p, plans)
		if p.Window > 0 {
			var durations checkpoint.Durations
			if opts.Store != nil {
				durations, _ = opts.Store.LoadDurations()
			}
			fmt.Fprintf(out, "\n%s\n", engine.EstimateWindow(p, durations))
		}
	}
	if err != nil {
		errs := []error{err}
		for _, sp := range plans {
			errs = append(errs, sp.Err)
		}
		return fail(ExitFailed, err, withEndpointHints(p, "fix what the preflight reports above; nothing was changed", errs...))
	}
	if js == nil {
		fmt.Fprintf(out, "\nNothing was changed. To execute: cutover run %s\n", p.File)
	}
	return nil
}

func printPlan(w io.Writer, p *plan.Plan, plans []engine.StepPlan) {
	fmt.Fprintf(w, "plan %q: %s", p.Name, plural(len(p.Steps), "step"))
	if p.Window > 0 {
		fmt.Fprintf(w, ", window %s", p.Window)
	}
	if p.PointOfNoReturn != "" {
		fmt.Fprintf(w, ", point of no return: %s", p.PointOfNoReturn)
	}
	fmt.Fprintln(w)
	for i, sp := range plans {
		fmt.Fprintf(w, "\n%2d. %s  (%s)%s\n", i+1, sp.Step.ID, role(sp.Step), ponrMark(p, sp.Step))
		printActions(w, sp.Actions)
		if sp.Err != nil {
			fmt.Fprintf(w, "      PREFLIGHT FAILED: %s\n", sp.Err)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, rollbackSummary(p))
}

func printActions(w io.Writer, actions []steps.Action) {
	for _, a := range actions {
		mark := "-"
		if a.Warning {
			mark = "WARNING:"
		}
		if a.Unverified {
			mark = "UNVERIFIED:"
		}
		fmt.Fprintf(w, "      %s %s\n", mark, a.Summary)
		for _, d := range a.Details {
			fmt.Fprintf(w, "          %s\n", d)
		}
	}
}

func role(s *plan.Step) string {
	if s.Rollback != nil && s.Rollback.Skip {
		return "not rolled back"
	}
	if s.Rollback != nil && len(s.Rollback.Command) > 0 {
		return "rollback: run " + command.Describe(s.Rollback.Command, s.Rollback.Secret)
	}
	switch s.Info.Kind {
	case steps.KindChange:
		return "undone on rollback"
	case steps.KindRedo:
		return "re-run on rollback"
	case steps.KindDrain:
		return "released last on rollback"
	}
	return "nothing to roll back"
}

func ponrMark(p *plan.Plan, s *plan.Step) string {
	if s.ID == p.PointOfNoReturn {
		return "  <- POINT OF NO RETURN: no automatic rollback once this is done"
	}
	return ""
}

func rollbackSummary(p *plan.Plan) string {
	scope := "If any step fails"
	if p.PointOfNoReturn != "" {
		scope = fmt.Sprintf("If a step fails before %s is done", p.PointOfNoReturn)
	}
	return scope + ", cutover rolls back automatically: undo changes newest first, re-run restarts and checks, release drains last."
}
