package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/rollback"
)

// ErrMissingInputs means a rollback was given fewer inputs than its
// remaining compensations use.
var ErrMissingInputs = errors.New("the rollback needs inputs that were not given")

// checkRollbackInputs lets a rollback run without the variables no
// remaining compensation uses (the plan was loaded with them unknown): an
// undo from the step's record (env) uses none, any other compensation the
// variables its step's block refers to. It returns the missing variables
// in use, naming the compensations that use them.
func (e *execution) checkRollbackInputs() error {
	missing := e.plan.Missing()
	if len(missing) == 0 {
		return nil
	}
	actions := rollback.Actions(e.plan, e.st)
	if e.st.Rollback != nil {
		actions = e.st.Rollback.Actions
	}
	var needed []string
	for _, a := range actions {
		s := e.plan.Step(a.Step)
		if a.Status == checkpoint.StatusDone || s == nil || fromRecord(a, s) {
			continue
		}
		for _, v := range s.Vars {
			if v == plan.AllVariables || slices.Contains(missing, v) {
				needed = append(needed, fmt.Sprintf("%s (phase %d %s of %s)", v, a.Phase, a.Op, a.Step))
			}
		}
	}
	if len(needed) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingInputs, strings.Join(needed, ", "))
	}
	e.emit(event.Event{Type: event.Notice, Message: "inputs not given: " + strings.Join(missing, ", ") + "; the remaining compensations do not use them"})
	return nil
}

// fromRecord reports whether action a undoes s from its record alone.
func fromRecord(a checkpoint.RollbackAction, s *plan.Step) bool {
	return a.Op == checkpoint.OpUndo && s.Info.UndoFromRecord && (s.Rollback == nil || len(s.Rollback.Command) == 0)
}
