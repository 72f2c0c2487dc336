// Package resume is the `resume` step: release a drain before the end of the
// plan, so traffic comes back on the new configuration. It is usually the
// point of no return: from then on, data is written under the new KMS.
package resume

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "resume", Kind: steps.KindNone, Idempotent: true, Decode: decode})
}

// Config is the body of a resume step.
type Config struct {
	Drain hcl.Expression `hcl:"drain"`
}

// Step releases a drain.
type Step struct {
	drainID  string
	releaser steps.Releaser
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	if diags.HasErrors() {
		return &Step{}, diags
	}
	id, impl, d := dc.StepRef(c.Drain, "drain")
	diags = append(diags, d...)
	s := &Step{drainID: id}
	if d.HasErrors() {
		return s, diags
	}
	r, ok := impl.(steps.Releaser)
	if !strings.HasPrefix(id, "drain.") || (!ok && impl != nil) {
		return s, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Not a drain step",
			Detail: fmt.Sprintf("drain must refer to a drain step, such as step.drain.traffic; %s is not one.", id), Subject: c.Drain.Range().Ptr()})
	}
	s.releaser = r
	return s, diags
}

// Plan says what is released.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.releaser == nil {
		return nil, fmt.Errorf("drain step %s has errors", s.drainID)
	}
	return []steps.Action{{Summary: fmt.Sprintf("release %s: %s", s.drainID, s.releaser.DescribeRelease())}}, nil
}

// Apply releases the drain.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if s.releaser == nil {
		return fmt.Errorf("drain step %s has errors", s.drainID)
	}
	if err := s.releaser.Release(ctx, rt); err != nil {
		return err
	}
	rt.SetSummary("released " + s.drainID)
	return nil
}

// Undo does nothing: traffic that resumed is not paused again by a rollback
// (the rollback releases drains itself, last).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
