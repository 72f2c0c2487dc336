package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/steps"
)

// Decision is the operator's choice for one file a rollback action stopped
// on: `cutover rollback --overwrite STEP=PATH` or `--keep STEP=PATH`.
type Decision struct {
	Step   string
	Path   string
	Choice steps.FileChoice
}

// Flag is the decision as the rollback flag that gives it.
func (d Decision) Flag() string { return "--" + string(d.Choice) + " " + d.Step + "=" + d.Path }

// ErrNoSuchConflict means a decision names a file no rollback action is
// waiting on.
var ErrNoSuchConflict = errors.New("no rollback action is waiting for a decision on that file")

// recordDecisions stores the operator's decisions on the rollback actions
// that stopped on those files, durably and in the audit log, before the
// rollback continues. A decision no action waits for is refused, and
// nothing is recorded.
func (e *execution) recordDecisions() error {
	if len(e.opts.Decisions) == 0 {
		return nil
	}
	var targets []*checkpoint.RollbackAction
	for _, d := range e.opts.Decisions {
		a := e.waitingOn(d)
		if a == nil {
			return fmt.Errorf("%s: %w (%s)", d.Flag(), ErrNoSuchConflict, e.conflictList())
		}
		targets = append(targets, a)
	}
	for i, d := range e.opts.Decisions {
		a := targets[i]
		if a.Decisions == nil {
			a.Decisions = map[string]string{}
		}
		a.Decisions[filepath.Clean(d.Path)] = string(d.Choice)
	}
	if err := e.save(); err != nil {
		return err
	}
	for _, d := range e.opts.Decisions {
		what := "overwrite it with the original recorded before the run"
		if d.Choice == steps.ChoiceKeep {
			what = "keep it as it is and mark the action resolved"
		}
		e.emit(event.Event{Type: event.Notice, Step: d.Step, Status: "decision",
			Message: fmt.Sprintf("operator's decision for %s (%s): %s", filepath.Clean(d.Path), d.Flag(), what)})
	}
	return nil
}

// waitingOn returns the unfinished undo action of d.Step that stopped on
// d.Path, or nil.
func (e *execution) waitingOn(d Decision) *checkpoint.RollbackAction {
	if e.st.Rollback == nil {
		return nil
	}
	for i := range e.st.Rollback.Actions {
		a := &e.st.Rollback.Actions[i]
		if a.Step == d.Step && a.Op == checkpoint.OpUndo && a.Status != checkpoint.StatusDone &&
			slices.Contains(a.Conflicts, filepath.Clean(d.Path)) {
			return a
		}
	}
	return nil
}

// conflictList says which files actions wait on, for a refused decision.
func (e *execution) conflictList() string {
	var waiting []string
	if e.st.Rollback != nil {
		for _, a := range e.st.Rollback.Actions {
			for _, p := range a.Conflicts {
				if a.Status != checkpoint.StatusDone {
					waiting = append(waiting, a.Step+"="+p)
				}
			}
		}
	}
	if len(waiting) == 0 {
		return "none is waiting"
	}
	return "waiting: " + strings.Join(waiting, ", ")
}

// noteConflict records on action a the files its compensation did not
// restore, and keeps the conflict for the hint.
func (e *execution) noteConflict(a *checkpoint.RollbackAction, err error) {
	var ce *steps.ConflictError
	if !errors.As(err, &ce) {
		return
	}
	a.Conflicts = nil
	for _, f := range ce.Files {
		a.Conflicts = append(a.Conflicts, f.Path)
	}
	e.conflict = ce
}

// conflictHint shows, per file, what changed since the step (masked) and
// the two commands to choose from.
func (e *execution) conflictHint(ce *steps.ConflictError) string {
	var b strings.Builder
	for i, f := range ce.Files {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s changed since step %s wrote it; what changed since (secret values masked):", f.Path, ce.Step)
		for _, line := range f.Diff {
			b.WriteString("\n    " + line)
		}
		b.WriteString("\nchoose one; the rollback then continues:")
		if f.CanOverwrite {
			b.WriteString("\n  " + e.cmd("rollback", "put back the original from before the run: the change above is lost", "--overwrite", ce.Step+"="+f.Path))
		} else {
			b.WriteString("\n  (the original recorded before the run does not match its sha256: it cannot be put back)")
		}
		b.WriteString("\n  " + e.cmd("rollback", "leave the file as it is now and mark it resolved", "--keep", ce.Step+"="+f.Path))
	}
	return e.plan.Secrets.Redact(b.String())
}
