package steps

import (
	"fmt"
	"strings"
)

// FileChoice is the operator's decision about a file a compensation found
// changed since the step wrote it (`cutover rollback --overwrite STEP=PATH`
// or `--keep STEP=PATH`).
type FileChoice string

// The choices; "" means none was given.
const (
	// ChoiceOverwrite puts back the original recorded before the step,
	// losing what was changed since.
	ChoiceOverwrite FileChoice = "overwrite"
	// ChoiceKeep leaves the file as it is now and counts it as resolved.
	ChoiceKeep FileChoice = "keep"
)

// FileConflict is one file a compensation did not restore because it is
// not what the step left there: someone changed it since.
type FileConflict struct {
	Path string // absolute
	// Now is the file's sha256 now, "" when it is gone; After is what the
	// step left.
	Now, After string
	// Diff is what changed since the step, one rendered env-diff line each,
	// secret values masked. It is printed for the operator, never stored.
	Diff []string
	// CanOverwrite is false when the recorded original cannot be used
	// (it does not hash to the recorded before_sha256).
	CanOverwrite bool
}

// ConflictError is returned by a compensation that stopped on files changed
// since its step wrote them, so the engine can offer the operator's choices.
// Its message names files and digests only.
type ConflictError struct {
	Step  string
	Files []FileConflict
}

func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Files))
	for i, f := range e.Files {
		now := "now removed"
		if f.Now != "" {
			now = fmt.Sprintf("sha256 %.12s now", f.Now)
		}
		parts[i] = fmt.Sprintf("%s (%s, the step left %.12s)", f.Path, now, f.After)
	}
	return fmt.Sprintf("%d file(s) changed since step %s wrote them, not restored: %s", len(e.Files), e.Step, strings.Join(parts, ", "))
}
