// Package execstep is the `exec` step: run any command. Its compensation is
// the step's `rollback { command = [...] }`; without one there is nothing to
// undo. An exec step is not re-run after a crash left it started, since a
// command cannot be assumed idempotent: the engine asks the operator.
package execstep

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "exec", Kind: steps.KindChange, Decode: decode})
}

// Config is the body of an exec step.
type Config struct {
	Command []string          `hcl:"command"`
	Env     map[string]string `hcl:"env,optional"`
	Dir     string            `hcl:"dir,optional"`
}

// Step runs Config.Command.
type Step struct {
	Config
	baseDir string
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{baseDir: dc.BaseDir}
	diags := dc.DecodeBody(body, &s.Config)
	if !diags.HasErrors() && len(s.Command) == 0 && !dc.Validating {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty command",
			Detail: "command must name a program and its arguments, such as [\"systemctl\", \"restart\", \"minio\"].", Subject: body.MissingItemRange().Ptr()})
	}
	s.Dir = dc.Path(s.Dir)
	return s, diags
}

// Plan checks that the program exists and shows the command line.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if err := Preflight(s.Command); err != nil {
		return nil, err
	}
	return []steps.Action{{Summary: "run " + Describe(s.Command, s.Env)}}, nil
}

// Apply runs the command.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	return Run(ctx, rt, s.Command, s.Env, s.dir())
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

// Preflight checks that argv's program can be found.
func Preflight(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("empty command")
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return fmt.Errorf("command %q not found: %w", argv[0], err)
	}
	return nil
}

// Describe renders a command line for display; env values are never shown.
func Describe(argv []string, env map[string]string) string {
	var b strings.Builder
	if len(env) > 0 {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("with env " + strings.Join(keys, ",") + ": ")
	}
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(a, " \t\"'") || a == "" {
			a = fmt.Sprintf("%q", a)
		}
		b.WriteString(a)
	}
	return b.String()
}

// Run runs argv with env, its output going to the step's log.
func Run(ctx context.Context, rt steps.Runtime, argv []string, env map[string]string, dir string) error {
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	return command.Run(ctx, command.Spec{Argv: argv, Env: envList, Dir: dir, Output: rt.Output()})
}
