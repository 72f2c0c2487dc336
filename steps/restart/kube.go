package restart

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/internal/kube"
)

// DefaultRolloutTimeout bounds the wait for a rollout when the step sets
// no rollout_timeout.
const DefaultRolloutTimeout = 10 * time.Minute

// kubeStep restarts workloads as `kubectl rollout restart` does.
type kubeStep struct {
	target kube.Target
	wait   time.Duration
}

// decodeKube builds the Kubernetes form of the step from its decoded
// body: kubernetes and objects instead of command; env and dir, which
// belong to a command, are refused.
func decodeKube(body hcl.Body, c Config, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	s := &kubeStep{wait: DefaultRolloutTimeout}
	if diags.HasErrors() {
		return s, diags
	}
	attrs := hcldecode.Attributes(body, &c)
	t, d := kube.DecodeTarget(dc, body, attrs, c.Kubernetes, c.Objects, kube.Rule{Step: "restart", Workloads: true, Refuse: []string{"command", "env", "dir"},
		Why: "belongs to a restart command; a step with kubernetes rolls out the workloads it names (objects).", Example: `["statefulset/minio"]`})
	s.target, diags = t, append(diags, d...)
	if a := attrs["rollout_timeout"]; c.RolloutTimeout != "" && dc.Known(a) {
		w, err := time.ParseDuration(c.RolloutTimeout)
		if err != nil || w <= 0 {
			diags = append(diags, hcldecode.AttrError("Invalid rollout_timeout", fmt.Sprintf("%q is not a positive duration such as \"10m\".", c.RolloutTimeout), a))
		}
		s.wait = w
	}
	return s, diags
}

func (s *kubeStep) names() string {
	names := make([]string, len(s.target.Refs))
	for i, r := range s.target.Refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// Plan checks the credentials may get and patch each workload
// (SelfSubjectAccessReview) and that each exists.
func (s *kubeStep) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	c := s.target.Cluster
	if c == nil {
		return nil, nil
	}
	if err := kube.CheckAccess(ctx, c, s.target.Refs, kube.Verbs); err != nil {
		return nil, err
	}
	for _, ref := range s.target.Refs {
		if _, err := kube.Status(ctx, c, ref, 0); err != nil {
			return nil, err
		}
	}
	return []steps.Action{{Summary: fmt.Sprintf("%s: rollout restart %s, then wait up to %s for the rollout", c.Describe(), s.names(), s.wait)}}, nil
}

// Apply sets each workload's restartedAt annotation, then waits for every
// rollout to complete, all by one deadline (rollout_timeout from the
// first patch): past it the step fails with kube.ErrRollout and the last
// status it read.
func (s *kubeStep) Apply(ctx context.Context, rt steps.Runtime) error {
	c := s.target.Cluster
	start := time.Now()
	deadline := start.Add(s.wait)
	gens := make([]int64, len(s.target.Refs))
	for i, ref := range s.target.Refs {
		gen, err := kube.Restart(ctx, c, ref, start)
		if err != nil {
			return err
		}
		gens[i] = gen
		rt.Logf("%s restarted: generation %d", ref, gen)
	}
	for i, ref := range s.target.Refs {
		if err := kube.Wait(ctx, c, ref, gens[i], deadline); err != nil {
			return err
		}
		rt.Logf("%s rolled out", ref)
	}
	rt.SetSummary(fmt.Sprintf("rolled out %s in %s", s.names(), time.Since(start).Round(time.Millisecond)))
	return nil
}

// Undo does nothing: phase 2 of a rollback runs Apply again, a new
// rollout of the restored configuration.
func (s *kubeStep) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
