// Package restart is the `restart` step: restart a service with a supervisor
// command (systemctl, a service manager, a script). It starts the maintenance
// window, and in a rollback it runs again so the service comes back on its
// old configuration.
//
// With `kubernetes = kubernetes.<name>` it restarts Deployments and
// StatefulSets as `kubectl rollout restart` does and waits for the rollout
// (kube.go).
//
// MinIO's own admin restart (`mc admin service restart`) re-executes the
// server with the environment it started with, so it does not pick up an env
// file change: Plan flags such a command.
package restart

import (
	"context"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/internal/stepcmd"
)

func init() {
	steps.Register(steps.Type{Name: "restart", Doc: "Restarts a service with a supervisor command (systemctl, a script). Starts the maintenance window, and runs again in a rollback so the service comes back on its old configuration.", Config: &Config{}, Kind: steps.KindRedo, Idempotent: true, Downtime: true, Restarts: true, Hosts: steps.HostsEach, Decode: decode})
}

// Config is the body of a restart step.
type Config struct {
	Command []string          `hcl:"command,optional" doc:"The restart command (argv, no shell), such as [\"systemctl\", \"restart\", \"minio\"]. MinIO's own admin restart keeps the old environment, and plan flags it. Required unless kubernetes is set."`
	Env     map[string]string `hcl:"env,optional" doc:"Variables set for the command over the environment it inherits."`
	Dir     string            `hcl:"dir,optional" default:"the plan's directory" doc:"The working directory; relative to the plan's directory."`
	// Kubernetes, Objects and RolloutTimeout make the restart a rollout
	// (kube.go).
	Kubernetes     hcl.Expression `hcl:"kubernetes,optional" type:"reference to kubernetes.<name>" doc:"Restart workloads of this cluster instead of running a command: with objects, replaces command (env and dir do not apply)."`
	Objects        []string       `hcl:"objects,optional" doc:"With kubernetes: the workloads to restart as kubectl rollout restart does, \"deployment/NAME\" or \"statefulset/NAME\"."`
	RolloutTimeout string         `hcl:"rollout_timeout,optional" default:"10m" doc:"With kubernetes: how long to wait for every rollout to complete (observed generation, updated, ready and available replicas, StatefulSet revision); past it the step fails."`
}

// Step restarts a service.
type Step struct {
	Config
	secret  []bool // which arguments of Command are sensitive
	baseDir string
	host    transport.Transport // nil: the operator's machine
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{baseDir: dc.BaseDir, host: stepcmd.OnHost(dc)}
	diags := dc.DecodeBody(body, &s.Config)
	if s.Kubernetes != nil {
		return decodeKube(body, s.Config, dc, diags)
	}
	if a := hcldecode.Attributes(body, &s.Config)["command"]; a == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
			Detail: "A restart step needs command, the restart command (such as [\"systemctl\", \"restart\", \"minio\"]), or kubernetes and objects, the workloads to roll out.", Subject: body.MissingItemRange().Ptr()})
	}
	s.secret = stepcmd.SecretArgs(body, dc, &s.Config, len(s.Command))
	if s.host != nil {
		return s, diags // dir, if any, is a path on the host
	}
	s.Dir = dc.Path(s.Dir)
	if s.Dir == "" {
		s.Dir = dc.BaseDir
	}
	return s, diags
}

// Plan checks the command exists and warns about restarts that keep the old
// environment.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.host == nil {
		if err := stepcmd.Preflight(s.Command, s.secret, s.Dir); err != nil {
			return nil, err
		}
	}
	actions := []steps.Action{{Summary: "restart: " + stepcmd.Describe(s.Command, s.secret, s.Env)}}
	if KeepsOldEnvironment(s.Command) {
		actions = append(actions, steps.Action{Warning: true,
			Summary: "MinIO's admin restart re-executes the server with its OLD environment: an env file change is not picked up; restart through the supervisor (systemctl restart minio) instead"})
	}
	return actions, nil
}

// KeepsOldEnvironment reports whether argv is MinIO's admin service restart.
func KeepsOldEnvironment(argv []string) bool {
	line := " " + strings.Join(argv, " ") + " "
	return strings.Contains(line, " admin service restart ")
}

// Apply runs the restart command.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if err := stepcmd.RunOn(ctx, rt, s.host, s.Command, s.secret, s.Env, s.Dir); err != nil {
		return err
	}
	rt.SetSummary("restarted: " + stepcmd.Describe(s.Command, s.secret, s.Env))
	return nil
}

// Undo does nothing: a restart is compensated by running it again in phase 2.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
