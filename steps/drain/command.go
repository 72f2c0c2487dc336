package drain

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
)

// commandAttrs are the attributes only the command mode sets, in the order
// diagnostics name them (the two required ones first). poll_interval is
// shared with the HTTP mode.
var commandAttrs = []string{"pause_command", "resume_command", "inflight_command", "env"}

// commandHTTPConflict is the detail of a diagnostic on an attribute of the
// HTTP mode set beside the command mode's, or the other way round.
const commandHTTPConflict = "A drain step either runs commands (pause_command, resume_command) or calls an HTTP service (pause_url, resume_url), not both; remove %s."

// httpOnlyAttrs are the HTTP attributes the command mode does not share.
var httpOnlyAttrs = []string{"pause_url", "resume_url", "inflight_url", "inflight_field", "method", "headers", "ca_file"}

// CommandStep drains a service by running commands: pause_command in Apply,
// then inflight_command (if set) until it prints 0, and resume_command in
// Release. Commands run without a shell, in the plan's directory, in their
// own process group; their output goes to the step's log.
//
// inflight_command must print the count (a non-negative integer, spaces
// around it ignored) and nothing else: its stdout and stderr are read as one
// stream, as internal/command delivers them. Each read is bounded by
// countTimeout, as each call of the HTTP mode is by its client.
//
// resume_command must be safe to run more than once and when the service is
// not paused: Release runs it again when a rollback or a resume is retried,
// and Undo runs it when Apply stopped before the pause took effect.
type CommandStep struct {
	pause, resume, inflight argv // inflight has no args when unset
	interval                time.Duration
	dir                     string
	env                     []string // KEY=VALUE set for every command
}

// argv is a command line and which of its arguments come from sensitive
// values (shown as secret.Mask wherever the command is displayed).
type argv struct {
	args      []string
	sensitive []bool // nil when no argument is sensitive
}

// commandUndo is the compensation record saved before the pause.
type commandUndo struct {
	Resume string `json:"resume"` // the release command, as displayed
}

// decodeCommand builds a command drain: both commands, non-empty argv, no
// HTTP attributes beside them.
func decodeCommand(c Config, attrs hcl.Attributes, body hcl.Body, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	diags = append(diags, conflicts(attrs, httpOnlyAttrs, commandHTTPConflict)...)
	diags = append(diags, missingCommands(attrs, body)...)
	s := &CommandStep{interval: 500 * time.Millisecond, dir: dc.BaseDir, env: command.EnvList(c.Env)}
	var d hcl.Diagnostics
	s.pause, d = decodeArgv(attrs["pause_command"], c.PauseCommand, dc)
	diags = append(diags, d...)
	s.resume, d = decodeArgv(attrs["resume_command"], c.ResumeCommand, dc)
	diags = append(diags, d...)
	s.inflight, d = decodeArgv(attrs["inflight_command"], c.InflightCommand, dc)
	diags = append(diags, d...)
	if c.PollInterval != "" {
		var diag *hcl.Diagnostic
		if s.interval, diag = pollInterval(c.PollInterval, body); diag != nil {
			diags = append(diags, diag)
		}
	}
	return s, diags
}

// missingCommands reports pause_command or resume_command not set.
func missingCommands(attrs hcl.Attributes, body hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range []string{"pause_command", "resume_command"} {
		if attrs[name] == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
				Detail: fmt.Sprintf("A command drain needs both pause_command and resume_command; %s is missing.", name), Subject: body.MissingItemRange().Ptr()})
		}
	}
	return diags
}

// decodeArgv checks a command attribute: set to an empty list (or to null)
// is an error, as is an empty program name; it also records which arguments
// are sensitive. Values that are unknown (under validate) or did not
// evaluate (already reported) are left alone.
func decodeArgv(a *hcl.Attribute, args []string, dc *hcldecode.Context) (argv, hcl.Diagnostics) {
	if a == nil {
		return argv{}, nil
	}
	v, diags := a.Expr.Value(dc.Eval)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return argv{args: args}, nil
	}
	empty := v.IsNull() || (v.CanIterateElements() && v.LengthInt() == 0)
	if empty || (len(args) > 0 && args[0] == "") {
		return argv{}, hcl.Diagnostics{hcldecode.AttrError("Empty command",
			fmt.Sprintf("%s must name a program and its arguments, such as [\"appctl\", \"pause\"].", a.Name), a)}
	}
	return argv{args: args, sensitive: hcldecode.SecretElements(a, dc, len(args))}, nil
}

// set reports whether the command was given.
func (c argv) set() bool { return len(c.args) > 0 }

// String renders the command line for plans, logs and errors, sensitive
// arguments masked.
func (c argv) String() string { return command.Describe(c.args, c.sensitive) }

// preflight checks that the program can be found, without running it.
func (c argv) preflight(dir string) error { return command.Find(c.args, c.sensitive, dir) }

// run runs the command in dir with env, its output (masked) going to out;
// a failure's error shows the command line masked.
func (c argv) run(ctx context.Context, rt steps.Runtime, dir string, env []string, out io.Writer) error {
	return command.Run(ctx, command.Spec{Argv: c.args, Secret: c.sensitive, Dir: dir, Env: env, Output: out, Secrets: rt.Secrets()})
}

// Plan checks that the commands' programs exist, reads the in-flight count
// once when inflight_command is set (as the HTTP mode reads its in-flight
// URL), and lists the commands. It never runs pause_command or
// resume_command.
func (s *CommandStep) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	for _, c := range []argv{s.pause, s.resume, s.inflight} {
		if c.set() {
			if err := c.preflight(s.dir); err != nil {
				return nil, err
			}
		}
	}
	actions := []steps.Action{{Summary: "pause: run " + s.pause.String()}}
	if s.inflight.set() {
		n, err := s.count(ctx, rt)
		if err != nil {
			return nil, fmt.Errorf("read in-flight count: %w", err)
		}
		actions = append(actions, steps.Action{Summary: fmt.Sprintf("wait until %s prints 0 in flight (now %d)", s.inflight, n)})
	}
	return append(actions, steps.Action{Summary: "on rollback or resume: " + s.DescribeRelease()}), nil
}

// Apply records the compensation, runs the pause command, and runs the
// in-flight command until it prints 0. The whole is bounded by the step's
// timeout (DefaultTimeout without one). Re-running it pauses again, which a
// pause command must accept.
func (s *CommandStep) Apply(ctx context.Context, rt steps.Runtime) error {
	if err := rt.SaveUndo(commandUndo{Resume: s.resume.String()}); err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := s.pause.run(ctx, rt, s.dir, s.env, rt.Output()); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if !s.inflight.set() {
		rt.SetSummary("paused")
		return nil
	}
	return waitZero(ctx, rt, s.interval, func(ctx context.Context) (int64, error) { return s.count(ctx, rt) })
}

// countTimeout bounds one run of the in-flight command, as the HTTP mode's
// client bounds each of its calls.
const countTimeout = 30 * time.Second

// count runs the in-flight command once and parses what it printed.
func (s *CommandStep) count(ctx context.Context, rt steps.Runtime) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	out := &limitedBuffer{limit: maxCountOutput}
	if err := s.inflight.run(ctx, rt, s.dir, s.env, io.MultiWriter(out, rt.Output())); err != nil {
		return 0, err
	}
	if out.truncated {
		return 0, fmt.Errorf("in-flight command output is longer than %d bytes, not a count: %s", maxCountOutput, excerpt(out.buf.Bytes()))
	}
	return parseCount(out.buf.Bytes())
}

// parseCount reads a non-negative integer, spaces around it ignored.
func parseCount(out []byte) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("in-flight command output is not a count: %s", excerpt(out))
	}
	return n, nil
}

// excerptLen is the most of a command's output an error quotes.
const excerptLen = 64

// excerpt quotes the start of out, its runs of spaces and newlines collapsed.
func excerpt(out []byte) string {
	s := strings.Join(strings.Fields(string(out)), " ")
	if len(s) > excerptLen {
		return strconv.Quote(s[:excerptLen]) + "..."
	}
	return strconv.Quote(s)
}

// maxCountOutput is the most of the in-flight command's output kept for
// parsing; more is not a count.
const maxCountOutput = 4096

// limitedBuffer keeps the first limit bytes written to it.
type limitedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
}

// Write keeps what fits and notes that the rest was dropped; it never fails.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		b.truncated = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

// Undo releases the drain (phase 3 of a rollback).
func (s *CommandStep) Undo(ctx context.Context, rt steps.Runtime) error { return s.Release(ctx, rt) }

// Release runs the resume command, bounded by the step's timeout
// (DefaultTimeout without one). It is as idempotent as that command, which
// must be safe to run twice and on a service that is not paused.
func (s *CommandStep) Release(ctx context.Context, rt steps.Runtime) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := s.resume.run(ctx, rt, s.dir, s.env, rt.Output()); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

// DescribeRelease says what Release runs, sensitive arguments masked.
func (s *CommandStep) DescribeRelease() string { return "run " + s.resume.String() }
