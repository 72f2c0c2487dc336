// Package execstep is the `exec` step: run any command. Its compensation is
// the step's `rollback { command = [...] }`; without one there is nothing to
// undo. An exec step is not re-run after a crash left it started, since a
// command cannot be assumed idempotent: the engine asks the operator.
package execstep

import (
	"context"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/steps"
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
	s := &Step{baseDir: dc.BaseDir, host: OnHost(dc)}
	diags := dc.DecodeBody(body, &s.Config)
	if !diags.HasErrors() && len(s.Command) == 0 && !dc.Validating {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty command",
			Detail: "command must name a program and its arguments, such as [\"systemctl\", \"restart\", \"minio\"].", Subject: body.MissingItemRange().Ptr()})
	}
	s.secret = SecretArgs(body, dc, &s.Config, len(s.Command))
	if s.host == nil {
		s.Dir = dc.Path(s.Dir)
	} else {
		s.baseDir = "" // a host's command starts in the user's home, or dir
	}
	return s, diags
}

// OnHost returns the host a step decoded per host runs on (nil: the
// operator's machine).
func OnHost(dc *hcldecode.Context) transport.Transport {
	if len(dc.On) == 1 {
		return dc.On[0]
	}
	return nil
}

// SecretArgs reports which of the n arguments of the body's `command`
// attribute come from sensitive values; target is the body's Config.
func SecretArgs(body hcl.Body, dc *hcldecode.Context, target any, n int) []bool {
	return hcldecode.SecretElements(hcldecode.Attributes(body, target)["command"], dc, n)
}

// Plan checks that the program exists and shows the command line.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.host != nil {
		return []steps.Action{{Summary: "run " + Describe(s.Command, s.secret, s.Env)}}, nil
	}
	if err := Preflight(s.Command, s.secret, s.dir()); err != nil {
		return nil, err
	}
	return []steps.Action{{Summary: "run " + Describe(s.Command, s.secret, s.Env)}}, nil
}

// Apply runs the command.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	return RunOn(ctx, rt, s.host, s.Command, s.secret, s.Env, s.dir())
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

// Preflight checks that argv's program can be found (a relative path from
// dir, where it will run); the error masks the secret arguments.
func Preflight(argv []string, secretArgs []bool, dir string) error {
	return command.Find(argv, secretArgs, dir)
}

// Describe renders a command line for display: secret arguments masked,
// env values never shown (only their names).
func Describe(argv []string, secretArgs []bool, env map[string]string) string {
	if len(env) == 0 {
		return command.Describe(argv, secretArgs)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "with env " + strings.Join(keys, ",") + ": " + command.Describe(argv, secretArgs)
}

// Run runs argv with env in dir, its output going to the step's log; a
// failure's error masks the secret arguments.
func Run(ctx context.Context, rt steps.Runtime, argv []string, secretArgs []bool, env map[string]string, dir string) error {
	return command.Run(ctx, command.Spec{Argv: argv, Secret: secretArgs, Env: command.EnvList(env), Dir: dir, Output: rt.Output(), Secrets: rt.Secrets()})
}

// RunOn is Run on host (the operator's machine when nil). Over SSH env
// travels on the session's standard input, never on a command line.
func RunOn(ctx context.Context, rt steps.Runtime, host transport.Transport, argv []string, secretArgs []bool, env map[string]string, dir string) error {
	if host == nil {
		return Run(ctx, rt, argv, secretArgs, env, dir)
	}
	return host.Run(ctx, transport.Command{Argv: argv, Secret: secretArgs, Env: env, Dir: dir, Output: rt.Output(), Secrets: rt.Secrets()})
}
