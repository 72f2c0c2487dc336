package command

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/secret"
)

// TestTailMaskedBeforeCut: a secret past the 4096th byte of a long line is
// masked before the line is cut for the error, so none of it shows.
func TestTailMaskedBeforeCut(t *testing.T) {
	const token = "tok-0123456789abcdef"
	set := &secret.Set{}
	set.Add(token)
	var log strings.Builder
	err := Run(context.Background(), Spec{
		Argv:    []string{"sh", "-c", `head -c 4086 /dev/zero | tr '\0' x; printf '%s\n\033[2J' "$T" >&2; exit 3`},
		Env:     []string{"T=" + token},
		Output:  &log,
		Secrets: set,
	})
	var ce *Error
	if !errors.As(err, &ce) || ce.ExitCode != 3 {
		t.Fatalf("Run = %v, want exit status 3", err)
	}
	if strings.Contains(ce.Tail, token[:6]) || !strings.Contains(ce.Tail, "x(sensitiv") {
		t.Errorf("tail ends %q: the secret's start shows, or the mask is missing", ce.Tail[len(ce.Tail)-40:])
	}
	if !strings.HasSuffix(log.String(), "x"+secret.Mask+"\n\\x1b[2J") {
		t.Errorf("log ends %q, want the mask and the escaped control sequence", log.String()[log.Len()-40:])
	}
}

// TestChildEnv: inputs and variables holding a secret value are not
// inherited; the rest is.
func TestChildEnv(t *testing.T) {
	set := &secret.Set{}
	set.Add("s3cr3t-value")
	got := ChildEnv([]string{"PATH=/bin", "CUTOVER_VAR_x=1", "VAULT_TOKEN=s3cr3t-value", "OTHER=s3cr3t-value-not", "HOME=/h"}, set)
	if strings.Join(got, " ") != "PATH=/bin OTHER=s3cr3t-value-not HOME=/h" {
		t.Errorf("ChildEnv = %q", got)
	}
}
