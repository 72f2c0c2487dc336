package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/plan"
)

func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "execute the plan: checkpoint after each step, roll back automatically when a step fails",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "only plan: the same as `cutover plan`"},
			&cli.BoolFlag{Name: "yes", Usage: "approve every approve step without asking"},
			&cli.StringSliceFlag{Name: "resolve", Usage: "settle a step a crash left started: `STEP=done|rerun` (repeatable)"},
		),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, false)
			if err != nil {
				return err
			}
			if c.Bool("dry-run") {
				return dryRun(c, e, p)
			}
			resolve, err := parseResolve(c.StringSlice("resolve"), p)
			if err != nil {
				return err
			}
			store, err := openStore(c, p)
			if err != nil {
				return err
			}
			return execute(c, e, p, func(ctx context.Context, opts engine.Options) engine.Result {
				opts.Store, opts.Resolve = store, resolve
				return engine.Run(ctx, p, opts)
			})
		},
	}
}

func parseResolve(values []string, p *plan.Plan) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		id, choice, ok := strings.Cut(v, "=")
		if !ok || (choice != engine.ResolveDone && choice != engine.ResolveRerun) {
			return nil, fail(ExitUsage, fmt.Errorf("--resolve %q: want STEP=done or STEP=rerun", v), "for example --resolve exec.migrate_db=done")
		}
		if p.Step(id) == nil {
			return nil, fail(ExitUsage, fmt.Errorf("--resolve %q: the plan has no step %s", v, id), "step IDs are <type>.<name>, as `cutover status` shows them")
		}
		out[id] = choice
	}
	return out, nil
}

// execute runs an engine operation with a renderer, signal handling and the
// exit code mapping shared by run and rollback.
func execute(c *cli.Context, e *env, p *plan.Plan, op func(context.Context, engine.Options) engine.Result) error {
	out := p.Secrets.Writer(e.stdout)
	r := newRenderer(c.Bool("json"), out, isTerminal(e.stdout))
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res := op(ctx, engine.Options{Events: r, Confirm: confirmer(c, e), Command: "cutover"})
	r.Close()
	code := exitCode(res)
	r.Result(res, code)
	if code == ExitOK {
		if res.Next != "" && !c.Bool("json") {
			fmt.Fprintf(out, "next: %s\n", res.Next)
		}
		return nil
	}
	msg := res.Err
	if res.Outcome == engine.RolledBack {
		msg = fmt.Errorf("rolled back: %w", res.Err)
	}
	return fail(code, redactErr(p, msg), strings.ReplaceAll(res.Next, "\n", "\ncutover: hint: "))
}

type redactedError struct{ msg string }

func (r redactedError) Error() string { return r.msg }

func redactErr(p *plan.Plan, err error) error {
	if err == nil {
		return nil
	}
	return redactedError{p.Secrets.Redact(err.Error())}
}

func exitCode(r engine.Result) int {
	switch r.Outcome {
	case engine.Completed:
		return ExitOK
	case engine.RolledBack:
		return ExitRolledBack
	}
	return ExitFailed
}

// confirmer answers approve steps: --yes, else a prompt when stdin is a
// terminal, else a refusal that says how to approve.
func confirmer(c *cli.Context, e *env) func(context.Context, string) (bool, error) {
	yes := c.Bool("yes")
	return func(ctx context.Context, prompt string) (bool, error) {
		if yes {
			return true, nil
		}
		if !isTerminal(e.stdin) {
			return false, fmt.Errorf("cannot ask %q: standard input is not a terminal; pass --yes, or use an approve step with a flag file", prompt)
		}
		fmt.Fprintf(e.stderr, "%s [y/N] ", prompt)
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil {
			return false, err
		}
		answer := strings.ToLower(strings.TrimSpace(line))
		return answer == "y" || answer == "yes", nil
	}
}
