package engine

import (
	"strings"

	"github.com/cutover/cutover/internal/shellquote"
)

// HintArgs are what a command printed as a hint needs besides the plan
// file, so that it can be pasted as it is.
type HintArgs struct {
	// State is the --state directory when it is not the default, else "".
	State string
	// Inputs are the flags that gave the plan its inputs, as typed:
	// "-var-file", PATH, "-var", "NAME=VALUE" (non-sensitive values only).
	Inputs []string
	// Sensitive names the variables whose values were given with -var and
	// are sensitive: a hint names them and never carries their values.
	Sensitive []string
}

// usesInputs are the commands that evaluate the plan's inputs; status,
// reset and unlock read the checkpoint and need only the state directory.
var usesInputs = map[string]bool{"run": true, "rollback": true, "plan": true}

// Line is the command "PROG VERB FLAGS... PLAN [--state DIR] [INPUTS...]",
// each argument shell-quoted where needed, then note as a shell comment.
// When sensitive -var values were given, the comment names them: pasted,
// the command runs without them and asks for them (or takes them from
// CUTOVER_VAR_<name>).
func (h HintArgs) Line(prog, verb, plan, note string, flags ...string) string {
	args := append([]string{prog, verb}, flags...)
	args = append(args, plan)
	if h.State != "" {
		args = append(args, "--state", h.State)
	}
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	if usesInputs[verb] {
		args = append(args, h.Inputs...)
		for _, n := range h.Sensitive {
			notes = append(notes, "add the sensitive -var "+n+"=... (or set CUTOVER_VAR_"+n+")")
		}
	}
	line := shellquote.Join(args...)
	if len(notes) > 0 {
		line += "   # " + strings.Join(notes, "; ")
	}
	return line
}
