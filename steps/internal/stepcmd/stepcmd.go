// Package stepcmd is what the step types that run an operator's command
// (exec, restart) share: the host a step decoded per host runs on, which
// arguments are sensitive, the preflight that finds the program, the masked
// command line shown in plans and summaries, and running it (locally or on a
// host) into the step's log. It is used by step types only.
package stepcmd

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
