// Package command runs an operator's command (a restart, an exec step, a
// rollback override) the way a maintenance runbook needs: argv without a shell,
// its own process group so a timeout kills the whole tree, output streamed to
// a log and its last lines kept for the error message.
//
// What a command prints is masked (Spec.Secrets, as one stream, whatever
// its write boundaries) and then escaped for a terminal (internal/termsafe)
// before anything else sees it: the log, and the last lines an Error
// quotes, which are cut to length only after masking. A command inherits
// cutover's environment without the plan's inputs (see ChildEnv).
package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/termsafe"
)

// Spec is a command to run.
type Spec struct {
	Argv []string
	// Env is what the plan passes to the command explicitly (KEY=VALUE),
	// set over the environment ChildEnv leaves it.
	Env []string
	Dir string
	// Output receives stdout and stderr as they come; may be nil.
	Output io.Writer
	// Stdin, if set, is the command's standard input; otherwise /dev/null.
	Stdin io.Reader
	// Secret marks the arguments that come from sensitive values: an Error
	// shows them as secret.Mask. It may be nil or shorter than Argv.
	Secret []bool
	// Secrets masks the command's output and keeps the variables holding
	// a sensitive value out of its environment; may be nil.
	Secrets *secret.Set
}

// tailLines is how many lines of output an error quotes.
const tailLines = 8

// Error is a command that did not exit 0. Argv is the command line as
// shown (secret arguments masked).
type Error struct {
	Argv     []string
	ExitCode int    // -1 when killed or not started
	Tail     string // the last lines of its output
	Err      error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("command %s", strings.Join(quoteArgs(e.Argv), " "))
	switch {
	case e.ExitCode >= 0:
		msg += fmt.Sprintf(" exited with status %d", e.ExitCode)
	default:
		msg += fmt.Sprintf(": %v", e.Err)
	}
	if e.Tail != "" {
		msg += ": " + strings.ReplaceAll(strings.TrimSpace(e.Tail), "\n", " | ")
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func quoteArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if strings.ContainsAny(a, " \t\"'") || a == "" {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return out
}

// Masked returns argv with the arguments secret marks replaced by
// secret.Mask; argv itself is not changed.
func Masked(argv []string, secretArgs []bool) []string {
	out := append([]string(nil), argv...)
	for i, s := range secretArgs {
		if s && i < len(out) {
			out[i] = secret.Mask
		}
	}
	return out
}

// Describe renders argv for plans, logs and errors: secret arguments
// masked, arguments with spaces or quotes quoted.
func Describe(argv []string, secretArgs []bool) string {
	return strings.Join(quoteArgs(Masked(argv, secretArgs)), " ")
}

// Find checks, without running anything, that argv's program can be
// found: on PATH, or with a slash, as a path (a relative one from dir,
// where the command will run). The error shows the command line masked.
func Find(argv []string, secretArgs []bool, dir string) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("empty command")
	}
	prog := argv[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) && dir != "" {
		prog = filepath.Join(dir, prog)
	}
	if _, err := exec.LookPath(prog); err != nil {
		return fmt.Errorf("command %s: program not found: %w", Describe(argv, secretArgs), maskProgram(err, argv, secretArgs))
	}
	return nil
}

// maskProgram hides a secret program name in err's text (os/exec quotes
// the name it could not find or start).
func maskProgram(err error, argv []string, secretArgs []bool) error {
	if err == nil || len(secretArgs) == 0 || !secretArgs[0] || argv[0] == "" {
		return err
	}
	return maskedError{err: err, text: strings.ReplaceAll(err.Error(), argv[0], secret.Mask)}
}

// maskedError is err with a text that hides a secret; it unwraps to err.
type maskedError struct {
	err  error
	text string
}

// Error returns the masked text.
func (e maskedError) Error() string { return e.text }

// Unwrap returns the error whose text is masked.
func (e maskedError) Unwrap() error { return e.err }

// outputGrace bounds how long Run waits, once the command's process group
// is gone, for the end of its output: only a process that left the group
// (setsid) can still hold the output pipe open.
const outputGrace = 2 * time.Second

// Run runs spec and waits for it. The command runs in a process group of its
// own; no process of that group outlives Run: when ctx ends the group gets
// SIGTERM, then SIGKILL two seconds later, and once the command has exited
// whatever it left behind in the group (a background `&`) gets SIGKILL. On
// Linux the group also dies with cutover, whatever ends cutover, SIGKILL
// included (see Pdeathsig and the reaper in reap_linux.go). A Tracker in ctx
// is told the group before Run waits for it (the engine records it in the
// checkpoint); if it fails, the group is killed and its error returned.
func Run(ctx context.Context, spec Spec) error {
	if len(spec.Argv) == 0 {
		return errors.New("empty command")
	}
	tail := &tailBuffer{max: tailLines}
	var sink io.Writer = tail
	if spec.Output != nil {
		sink = io.MultiWriter(tail, spec.Output)
	}
	escaped := termsafe.NewWriter(sink)
	out := spec.Secrets.Stream(escaped)
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = append(append(ChildEnv(os.Environ(), spec.Secrets), spec.Env...), commandEnv()...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr, cmd.Stdin = out, out, spec.Stdin
	cmd.SysProcAttr = procAttr()
	cmd.WaitDelay = outputGrace
	shown := Masked(spec.Argv, spec.Secret)
	if err := start(cmd); err != nil {
		return &Error{Argv: shown, ExitCode: -1, Err: maskProgram(err, spec.Argv, spec.Secret)}
	}
	pgid := cmd.Process.Pid
	watchGroup(pgid)
	defer forgetGroup(pgid)
	proc := Process{PGID: pgid, Command: Describe(spec.Argv, spec.Secret)}
	t, _ := ctx.Value(trackerKey{}).(Tracker)
	if t != nil {
		if err := t.Started(proc); err != nil {
			killGroup(pgid)
			_ = cmd.Wait()
			_ = out.Close()
			_ = escaped.Close()
			return fmt.Errorf("command %s: %w", proc.Command, err)
		}
		defer t.Ended(proc)
	}
	done := make(chan struct{})
	go killOnCancel(ctx, pgid, done)
	err := waitKillingGroup(cmd)
	close(done)
	// the output has ended: write what the masking held back
	_ = out.Close()
	_ = escaped.Close()
	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	ce := &Error{Argv: shown, ExitCode: -1, Tail: tail.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		ce.ExitCode = ee.ExitCode()
	}
	if ctx.Err() != nil {
		ce.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		ce.ExitCode = -1
	}
	return ce
}

// EnvList turns a plan's `env` map into KEY=VALUE entries, sorted by name.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// InputPrefix starts the names of the variables that give a plan its
// inputs (plan.EnvVarPrefix).
const InputPrefix = "CUTOVER_VAR_"

// ChildEnv returns environ without what a child must not inherit: every
// CUTOVER_VAR_ variable (a plan's inputs), and every variable whose value
// is one of secrets' values (an input read with env(), a token). A command
// gets such a value only through the plan's `env` attribute for it.
func ChildEnv(environ []string, secrets *secret.Set) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, InputPrefix) || secrets.Has(value) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func killOnCancel(ctx context.Context, pgid int, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		killGroup(pgid)
	}
}

// killGroup sends SIGKILL to the process group pgid.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// tailBuffer keeps the last max lines written to it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			t.push(t.part.String())
			t.part.Reset()
			continue
		}
		if t.part.Len() < 4096 {
			t.part.WriteByte(b)
		}
	}
	return len(p), nil
}

func (t *tailBuffer) push(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.part.Len() > 0 {
		lines = append(append([]string(nil), lines...), t.part.String())
	}
	return strings.Join(lines, "\n")
}
