// Package execstep is the `exec` step: run any command. Its compensation is
// the step's `rollback { command = [...] }`; without one there is nothing to
// undo. An exec step is not re-run after a crash left it started, since a
// command cannot be assumed idempotent: the engine asks the operator.
package execstep

import (
	"context"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/internal/stepcmd"
)

func init() {
	steps.Register(steps.Type{Name: "exec", Doc: "Runs any command (argv, no shell). Its compensation is the step's rollback { command }; without one there is nothing to undo, and a run interrupted during it asks the operator.", Config: &Config{}, Kind: steps.KindChange, Hosts: steps.HostsEach, Decode: decode})
}

// Config is the body of an exec step.
type Config struct {
	Command []string          `hcl:"command" doc:"The program and its arguments, run without a shell, such as [\"systemctl\", \"reload\", \"app\"]. Arguments from sensitive values are masked wherever the command line is shown."`
	Env     map[string]string `hcl:"env,optional" doc:"Variables set for the command over the environment it inherits (which holds none of the plan's inputs); the way to pass a sensitive value to a command."`
	Dir     string            `hcl:"dir,optional" default:"the plan's directory" doc:"The working directory; relative to the plan's directory."`
}

// Step runs Config.Command.
type Step struct {
	Config
	secret  []bool // which arguments of Command are sensitive
	baseDir string
	// host, when the step runs on a plan host, is where the command runs.
	host transport.Transport
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{baseDir: dc.BaseDir, host: stepcmd.OnHost(dc)}
	diags := dc.DecodeBody(body, &s.Config)
	if !diags.HasErrors() && len(s.Command) == 0 && !dc.Validating {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty command",
			Detail: "command must name a program and its arguments, such as [\"systemctl\", \"restart\", \"minio\"].", Subject: body.MissingItemRange().Ptr()})
	}
	s.secret = stepcmd.SecretArgs(body, dc, &s.Config, len(s.Command))
	if s.host == nil {
		s.Dir = dc.Path(s.Dir)
	} else {
		s.baseDir = "" // a host's command starts in the user's home, or dir
	}
	return s, diags
}

// Plan checks that the program exists and shows the command line.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.host != nil {
		return []steps.Action{{Summary: "run " + stepcmd.Describe(s.Command, s.secret, s.Env)}}, nil
	}
	if err := stepcmd.Preflight(s.Command, s.secret, s.dir()); err != nil {
		return nil, err
	}
	return []steps.Action{{Summary: "run " + stepcmd.Describe(s.Command, s.secret, s.Env)}}, nil
}

// Apply runs the command.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	return stepcmd.RunOn(ctx, rt, s.host, s.Command, s.secret, s.Env, s.dir())
}

func (s *Step) dir() string {
	if s.Dir != "" {
		return s.Dir
	}
	return s.baseDir
}

// Undo has nothing to do: compensation is the step's rollback command, which
// the engine runs instead of Undo when it is set.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	rt.Logf("no rollback command: nothing to undo")
	return nil
}
