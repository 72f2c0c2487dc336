package checkpoint

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// NameRule is the one rule plan names (`cutover "<name>"`, or the plan file's
// base name without one) and step names follow: an ASCII letter, then at most
// 63 ASCII letters, digits, underscores or dashes. No dot, slash or "..", so a
// name is always one path element inside the state directory, and a step
// name stays a valid HCL reference (step.<type>.<name>). plan enforces it with
// a diagnostic; this package refuses any other name (defence in depth).
const NameRule = `^[A-Za-z][A-Za-z0-9_-]{0,63}$`

// NameRuleText says NameRule in words, for diagnostics and hints.
const NameRuleText = "a letter, then at most 63 letters, digits, underscores or dashes (no dots, slashes or spaces)"

var validName = regexp.MustCompile(NameRule)

// ErrInvalidName means a plan, step, undo blob or journal name breaks NameRule.
var ErrInvalidName = errors.New("invalid name")

// ValidName returns nil if name follows NameRule, else an error wrapping
// ErrInvalidName that quotes it.
func ValidName(name string) error {
	if validName.MatchString(name) {
		return nil
	}
	return fmt.Errorf("%w %q: use %s", ErrInvalidName, name, NameRuleText)
}

// ValidStepID checks a step ID "<type>.<name>": both parts follow NameRule.
func ValidStepID(id string) error {
	typ, name, ok := strings.Cut(id, ".")
	if ok && validName.MatchString(typ) && validName.MatchString(name) {
		return nil
	}
	return fmt.Errorf("%w: step ID %q is not <type>.<name> with each part %s", ErrInvalidName, id, NameRuleText)
}

// DefaultDir is the state directory of the plan called name whose file is in
// planDir: .cutover/<name> beside the plan. A name breaking NameRule (one
// that could escape .cutover/) is refused.
func DefaultDir(planDir, name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", fmt.Errorf("plan name: %w", err)
	}
	return filepath.Join(planDir, ".cutover", name), nil
}

// stepFile is the file name "<step ID>.<name><ext>" of a step's undo blob,
// journal or log, refused unless both parts are valid.
func stepFile(step, name, ext string) (string, error) {
	if err := ValidStepID(step); err != nil {
		return "", err
	}
	if err := ValidName(name); err != nil {
		return "", err
	}
	return step + "." + name + ext, nil
}
