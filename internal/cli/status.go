package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show what the checkpoint says: steps, times, where it stopped, what to run next",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(), stateURLFlag(), identityFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "stream the events of the run in progress (or the last one) until it ends, from any terminal"}),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, true)
			if err != nil {
				return err
			}
			if c.Bool("follow") {
				return follow(c, e, p)
			}
			store, st, err := loadState(c, p)
			if err != nil {
				return err
			}
			out := p.Secrets.Writer(e.stdout)
			if st == nil && c.Bool("json") {
				// still JSON: a script reading .phase must not choke on prose
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]string{"plan": p.Name, "state_dir": stateDirShown(c, p), "phase": "not_started"})
			}
			if st == nil {
				fmt.Fprintf(out, "no checkpoint for plan %q in %s: it has not run\n", p.Name, stateDirShown(c, p))
				return nil
			}
			if c.Bool("json") {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(out, p, st, store, statusHint(c, p, st))
			return nil
		},
	}
}

// statusHint is what the commands status prints need: --state as given,
// and the inputs given to status, else those the run recorded.
func statusHint(c *cli.Context, p *plan.Plan, st *checkpoint.State) engine.HintArgs {
	h := hintArgs(c, p)
	if len(h.Inputs)+len(h.Sensitive) == 0 && st.Inputs != nil {
		h.Inputs, h.Sensitive = st.Inputs.Args, st.Inputs.Sensitive
	}
	return h
}

func printStatus(w io.Writer, p *plan.Plan, st *checkpoint.State, store *checkpoint.Store, h engine.HintArgs) {
	fmt.Fprintf(w, "plan %q  run %s  %s\n", st.Plan, st.RunID, st.Phase)
	fmt.Fprintf(w, "started %s, updated %s\n", st.StartedAt.Format(time.RFC3339), st.UpdatedAt.Format(time.RFC3339))
	if st.PastPointOfNoReturn {
		fmt.Fprintf(w, "past the point of no return (%s)\n", p.PointOfNoReturn)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "reason: %s\n", st.Error)
	}
	fmt.Fprintln(w, "\nsteps:")
	for _, s := range st.Steps {
		fmt.Fprintf(w, "  %-8s %-28s %7s  %s\n", s.Status, s.ID, took(s.StartedAt, s.FinishedAt), stepNote(s))
	}
	if rb := st.Rollback; rb != nil {
		fmt.Fprintf(w, "\nrollback (%s):\n", rb.Reason)
		for _, a := range rb.Actions {
			fmt.Fprintf(w, "  %-8s phase %d %-7s %-28s %7s  %s\n", a.Status, a.Phase, a.Op, a.Step, took(a.StartedAt, a.FinishedAt), firstNonEmpty(a.Error, a.Summary))
		}
	}
	if held := engine.DrainsInForce(p, st); len(held) > 0 && st.Phase != checkpoint.PhaseCompleted {
		fmt.Fprintln(w, "\ntraffic is held by:")
		for _, d := range held {
			fmt.Fprintf(w, "  %-28s %s\n", d.ID, releaseNote(d))
		}
	}
	if lock, err := store.ReadLock(); err == nil {
		fmt.Fprintf(w, "\nlocked by %s: lock %s, user %s, host %s, pid %d, since %s\n", lock.Operation, lock.ID, lock.User, lock.Host, lock.PID, lock.Created.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\nnext: %s\n", nextCommand(p, st, h))
}

func stepNote(s checkpoint.StepState) string {
	if s.Error != "" {
		return s.Error
	}
	return s.Summary
}

func took(start, end *time.Time) string {
	if start == nil || end == nil {
		return ""
	}
	return seconds(end.Sub(*start))
}

// nextCommand says what an operator should run after this state: commands
// that paste as they are (--state and the run's inputs included), one per
// line, each with a shell comment.
func nextCommand(p *plan.Plan, st *checkpoint.State, h engine.HintArgs) string {
	cmd := func(verb, note string, flags ...string) string {
		return h.Line("cutover", verb, p.File, note, flags...)
	}
	switch st.Phase {
	case checkpoint.PhaseCompleted:
		return "nothing: the cutover completed; to run it again from the start:\n" + cmd("reset", "archives this run")
	case checkpoint.PhaseRolledBack:
		return "fix the cause and rehearse, then start a new run:\n" + cmd("plan", "rehearse") + "\n" + cmd("run", "a new run")
	case checkpoint.PhaseRollingBack, checkpoint.PhaseRollbackFailed:
		return cmd("rollback", "continues from the compensation that stopped") + conflictChoices(st, cmd)
	case checkpoint.PhaseStopped:
		id := interrupted(st)
		return "check what " + id + " did, then choose one:\n" + cmd("run", "it completed", "--resolve", id+"=done") + "\n" +
			cmd("run", "run it again", "--resolve", id+"=rerun") + "\n" + cmd("rollback", "undo the run")
	case checkpoint.PhaseFailed:
		return "fix the cause, then retry the step:\n" + cmd("run", "") + "\n" +
			cmd("rollback", "only if losing the data written since the point of no return is acceptable", "--accept-data-loss")
	}
	return cmd("run", "resumes after the last done step")
}

// interrupted is the first step a previous process left started or failed.
func interrupted(st *checkpoint.State) string {
	for _, s := range st.Steps {
		if s.Status == checkpoint.StatusStarted || s.Status == checkpoint.StatusFailed {
			return s.ID
		}
	}
	return "STEP"
}

// conflictChoices lists, for a rollback stopped on files changed since
// their step, the two commands per file (`cutover rollback` shows the diff).
func conflictChoices(st *checkpoint.State, cmd func(verb, note string, flags ...string) string) string {
	var b strings.Builder
	if st.Rollback == nil {
		return ""
	}
	for _, a := range st.Rollback.Actions {
		if a.Status == checkpoint.StatusDone {
			continue
		}
		for _, path := range a.Conflicts {
			if _, decided := a.Decisions[path]; decided {
				continue
			}
			fmt.Fprintf(&b, "\n%s changed since step %s wrote it (the rollback shows what changed); choose one:\n%s\n%s", path, a.Step,
				cmd("rollback", "put back the original", "--overwrite", a.Step+"="+path),
				cmd("rollback", "keep the file as it is", "--keep", a.Step+"="+path))
		}
	}
	return b.String()
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// releaseNote says what releases a drain in force.
func releaseNote(d *plan.Step) string {
	if r, ok := d.Impl.(steps.Releaser); ok {
		return "released by a resume step or a rollback: " + r.DescribeRelease()
	}
	return "released by a resume step or a rollback"
}
