// Package approve is the `approve` step: a manual gate. It passes when the
// operator answers yes at the terminal, when cutover runs with --yes, or, with
// `file` set, when that flag file appears (so a second person can approve from
// elsewhere). It has nothing to compensate.
package approve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "approve", Doc: "A manual gate: passes when the operator answers yes, when cutover runs with --yes, or when a flag file appears.", Config: &Config{}, Kind: steps.KindNone, Idempotent: true, Decode: decode})
}

// Config is the body of an approve step.
type Config struct {
	Message string `hcl:"message,optional" default:"\"continue?\"" doc:"The question asked at the terminal."`
	File    string `hcl:"file,optional" doc:"A flag file whose appearance approves (so a second person can approve from elsewhere); the step then asks nothing at the terminal. Relative to the plan's directory."`
}

// Step is a manual gate.
type Step struct{ Config }

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{}
	diags := dc.DecodeBody(body, &s.Config)
	s.File = dc.Path(s.File)
	if s.Message == "" {
		s.Message = "continue?"
	}
	return s, diags
}

// Plan describes the gate.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.File != "" {
		return []steps.Action{{Summary: fmt.Sprintf("wait for the approval file %s", s.File)}}, nil
	}
	return []steps.Action{{Summary: fmt.Sprintf("ask the operator: %s (or --yes)", s.Message)}}, nil
}

// Asks is true when the step asks at the terminal (no file): see
// steps.Asker.
func (s *Step) Asks() bool { return s.File == "" }

// Apply waits for the approval.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if s.File != "" {
		return s.waitFile(ctx, rt)
	}
	ok, err := rt.Confirm(ctx, s.Message)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the operator answered no", steps.ErrNotConfirmed)
	}
	rt.SetSummary("approved")
	return nil
}

func (s *Step) waitFile(ctx context.Context, rt steps.Runtime) error {
	rt.Logf("waiting for %s", s.File)
	for {
		if _, err := os.Stat(s.File); err == nil {
			rt.SetSummary("approved by " + s.File)
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s did not appear: %v", steps.ErrNotConfirmed, s.File, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Undo does nothing.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
