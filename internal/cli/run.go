package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
)

func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "execute the plan: checkpoint after each step, roll back automatically when a step fails",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(), stateURLFlag(), identityFlag(), jsonFlag(), preflightFlag(), ignoreWindowFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "only plan, the same as the plan command: nothing is changed or written"},
			&cli.BoolFlag{Name: "yes", Usage: "approve every approve step without asking"},
			&cli.StringSliceFlag{Name: "resolve", Usage: "settle a step a crash left started: `STEP=done|rerun` (repeatable)"},
			&cli.BoolFlag{Name: "accept-unverified-kms", Usage: "start although the preflight could not verify MinIO's default key (AIStor Key Manager cannot be reached from here); check it yourself first"},
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
			if _, _, err := loadState(c, p); err != nil {
				return err // a checkpoint that fails its check, or another plan's
			}
			store, err := openStore(c, p)
			if err != nil {
				return err
			}
			if err := attachRunLog(c, e, p, store); err != nil {
				return err
			}
			return execute(c, e, p, func(ctx context.Context, opts engine.Options) engine.Result {
				opts.Store, opts.Resolve, opts.AcceptUnverified = store, resolve, c.Bool("accept-unverified-kms")
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
	r := newRenderer(c.Bool("json"), out, p.Secrets.Writer(e.con.stdout.terminalOnly()), isTerminal(e.con.stdout.raw))
	var sink event.Sink = r
	if log := e.con.eventsLog(); log != nil {
		sink = tee{r, log}
	}
	ctx, events, stop := interruptible(c, e, sink)
	defer stop()
	res := op(ctx, engine.Options{Events: events, Confirm: confirmer(c, e), Command: "cutover", Hint: hintArgs(c, p),
		PreflightTimeout: c.Duration("preflight-timeout"), IgnoreWindow: c.Bool("ignore-window")})
	r.Close()
	code := exitCode(res)
	r.Result(res, code)
	if log := e.con.eventsLog(); log != nil {
		log.write(newResultLine(res.Outcome.String(), code, redactErr(p, res.Err), res.Next))
	}
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
	return fail(code, redactErr(p, msg), withEndpointHints(p, strings.ReplaceAll(res.Next, "\n", "\ncutover: hint: "), res.Err))
}

// attachRunLog copies everything run or rollback prints from now on into
// the state directory's logs/run.log. Refused before anything changed when
// the log cannot be written.
func attachRunLog(c *cli.Context, e *env, p *plan.Plan, store *checkpoint.Store) error {
	if err := e.con.attachLog(store.RunLogPath(), p.Secrets, c.Command.Name+" "+p.File); err != nil {
		return fail(ExitFailed, err, "check that the state directory is writable, or choose another with --state")
	}
	log, err := openEventsLog(store.Dir(), p.Secrets, c.Command.Name)
	if err != nil {
		return fail(ExitFailed, err, "check that the state directory is writable, or choose another with --state")
	}
	e.con.setEventsLog(log)
	return nil
}

// interruptible returns a context that SIGINT or SIGTERM cancels, and the
// event sink to give the engine: sink, watched for the start and end of a
// rollback. A signal during a rollback (all of `cutover rollback`, the
// automatic rollback of a run) is said and ignored: a rollback cut in half
// leaves the service in neither state. Otherwise the first signal is
// acknowledged on stderr, so that the "context canceled" the current step
// then fails with is not mistaken for a bug or a timeout, and cancels the
// run; later ones are ignored (and said to be) until the engine has finished
// what must not be cut short.
func interruptible(c *cli.Context, e *env, sink event.Sink) (context.Context, event.Sink, func()) {
	ctx, cancel := context.WithCancel(c.Context)
	watch := &rollbackWatch{Sink: sink}
	watch.rolling.Store(c.Command.Name == "rollback")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for n := 0; ; {
			select {
			case <-done:
				return
			case sig := <-sigs:
				switch {
				case watch.rolling.Load():
					fmt.Fprintf(e.stderr, "cutover: %s: ignored: the rollback goes on to its end (a rollback cut in half leaves the service in neither state)\n", sig)
					continue
				case n > 0:
					fmt.Fprintf(e.stderr, "cutover: %s again: ignored until cutover has finished cleaning up\n", sig)
				default:
					fmt.Fprintf(e.stderr, "cutover: %s: stopping the current step; before the point of no return, what the run changed is rolled back before cutover exits\n", sig)
				}
				n++
				cancel()
			}
		}
	}()
	return ctx, watch, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// rollbackWatch passes events on to Sink and tracks whether a rollback is
// under way.
type rollbackWatch struct {
	event.Sink
	rolling atomic.Bool
}

// Emit implements event.Sink.
func (w *rollbackWatch) Emit(ev event.Event) {
	switch ev.Type {
	case event.RollbackStart:
		w.rolling.Store(true)
	case event.RollbackEnd:
		w.rolling.Store(false)
	}
	w.Sink.Emit(ev)
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
// terminal; with neither it is nil (no way to ask), and the engine refuses
// at preflight a plan whose approve steps would ask.
func confirmer(c *cli.Context, e *env) func(context.Context, string) (bool, error) {
	yes := c.Bool("yes")
	if !yes && !isTerminal(e.stdin) {
		return nil // no way to ask: the engine refuses plans that would
	}
	return func(ctx context.Context, prompt string) (bool, error) {
		if yes {
			return true, nil
		}
		fmt.Fprintf(e.stderr, "%s [y/N] ", prompt)
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if errors.Is(err, io.EOF) && strings.TrimSpace(line) == "" {
			fmt.Fprintln(e.stderr)
			return false, fmt.Errorf("no answer to %q: standard input was closed; pass --yes, or use an approve step with a flag file", prompt)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("reading the answer to %q: %w", prompt, err)
		}
		answer := strings.ToLower(strings.TrimSpace(line))
		return answer == "y" || answer == "yes", nil
	}
}
