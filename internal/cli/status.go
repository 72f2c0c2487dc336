package cli

import (
	"encoding/json"
	"fmt"
	"io"
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
		Flags:     append(varFlags(), stateFlag(), jsonFlag()),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, true)
			if err != nil {
				return err
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
			printStatus(out, p, st, store)
			return nil
		},
	}
}

func printStatus(w io.Writer, p *plan.Plan, st *checkpoint.State, store *checkpoint.Store) {
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
	fmt.Fprintf(w, "\nnext: %s\n", nextCommand(p, st))
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

// nextCommand says what an operator should run after this state.
func nextCommand(p *plan.Plan, st *checkpoint.State) string {
	switch st.Phase {
	case checkpoint.PhaseCompleted:
		return "nothing: the cutover completed (cutover reset " + p.File + " to run it again)"
	case checkpoint.PhaseRolledBack:
		return "fix the cause, rehearse with `cutover plan " + p.File + "`, then `cutover run " + p.File + "` (a new run)"
	case checkpoint.PhaseRollingBack, checkpoint.PhaseRollbackFailed:
		return "cutover rollback " + p.File + "   (continues from the compensation that stopped)"
	case checkpoint.PhaseStopped:
		return "cutover run " + p.File + " --resolve STEP=done|rerun, or cutover rollback " + p.File
	case checkpoint.PhaseFailed:
		return "fix the cause and `cutover run " + p.File + "` to retry, or `cutover rollback --accept-data-loss " + p.File + "`"
	}
	return "cutover run " + p.File + "   (resumes after the last done step)"
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
