package sshtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/shellquote"
	"github.com/cutover/cutover/internal/termsafe"
	"github.com/cutover/cutover/internal/transport"
)

// killGrace is how long a cancelled command has between SIGTERM and the
// session's end.
const killGrace = 2 * time.Second

// Run runs c on the host: the session's command line is `sh -s`; the
// environment, the working directory and the command itself are written to
// its standard input, so no value of the environment appears on a command
// line (the remote `ps` shows the program and its arguments). Output is
// masked with c.Secrets and escaped for the terminal. When ctx ends the
// command gets SIGTERM, and the session is closed killGrace later.
func (h *Host) Run(ctx context.Context, c transport.Command) error {
	if len(c.Argv) == 0 {
		return errors.New("empty command")
	}
	var b strings.Builder
	if c.Dir != "" {
		fmt.Fprintf(&b, "cd %s || exit 125\n", shellquote.Quote(c.Dir))
	}
	fmt.Fprintf(&b, "exec %s\n", shellquote.Join(c.Argv...))
	tail := &tail{max: 4096}
	var sink io.Writer = tail
	if c.Output != nil {
		sink = io.MultiWriter(tail, c.Output)
	}
	escaped := termsafe.NewWriter(sink)
	out := c.Secrets.Stream(escaped)
	err := h.script(ctx, c.Env, b.String(), out)
	_ = out.Close()
	_ = escaped.Close()
	if err == nil {
		return nil
	}
	shown := command.Describe(c.Argv, c.Secret)
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("host %s: %s exited with status %d: %s", h.cfg.Name, shown, ee.ExitStatus(), c.Secrets.Redact(strings.TrimSpace(tail.String())))
	}
	return fmt.Errorf("host %s: %s: %w", h.cfg.Name, shown, err)
}

// script runs `sh -s` with env exported and text as its script, all on
// standard input, until ctx ends. Output goes to out. The shell first
// writes its pid on stderr (caught, not shown): sshd makes it a session
// and process group leader, so a cancel can signal the group from another
// session (OpenSSH refuses signal requests without privilege separation).
func (h *Host) script(ctx context.Context, env map[string]string, text string, out io.Writer) error {
	client, _, err := h.conn(ctx)
	if err != nil {
		return err
	}
	var sess *ssh.Session
	if err := h.withDeadline(ctx, client, "open session", func() error {
		var err error
		sess, err = client.NewSession()
		return err
	}); err != nil {
		return h.lost(client, "open session", err)
	}
	defer sess.Close()
	head, err := exports(env)
	if err != nil {
		return err
	}
	pid := &pidCatcher{w: out, got: make(chan string, 1)}
	sess.Stdin = strings.NewReader("echo \"$$\" >&2\n" + head + text)
	sess.Stdout, sess.Stderr = out, pid
	if err := sess.Start("sh -s"); err != nil {
		return h.lost(client, "start", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		var missing *ssh.ExitMissingError
		if errors.As(err, &missing) {
			return h.lost(client, "run", err)
		}
		return err
	case <-ctx.Done():
		h.kill(client, pid, "TERM")
		select {
		case <-done:
		case <-time.After(killGrace):
			h.kill(client, pid, "KILL")
			sess.Close()
		}
		return fmt.Errorf("host %s: %w", h.cfg.Name, ctx.Err())
	}
}

// kill signals the process group of a running script from a new session,
// within the call deadline; a failure is ignored (the session is closed
// anyway).
func (h *Host) kill(client *ssh.Client, pid *pidCatcher, sig string) {
	var n string
	select {
	case n = <-pid.got:
		pid.got <- n
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.callTimeout())
	defer cancel()
	_ = h.withDeadline(ctx, client, "kill", func() error {
		sess, err := client.NewSession()
		if err != nil {
			return err
		}
		defer sess.Close()
		return sess.Run("kill -" + sig + " -- -" + n)
	})
}

// pidCatcher takes the first line written to it (the shell's pid) and
// passes the rest on.
type pidCatcher struct {
	w    io.Writer
	got  chan string
	line []byte
	done bool
}

func (p *pidCatcher) Write(b []byte) (int, error) {
	if p.done {
		return p.w.Write(b)
	}
	n := len(b)
	i := strings.IndexByte(string(b), '\n')
	if i < 0 {
		p.line = append(p.line, b...)
		return n, nil
	}
	p.line = append(p.line, b[:i]...)
	p.done = true
	if _, err := strconv.Atoi(string(p.line)); err == nil {
		p.got <- string(p.line)
	}
	if rest := b[i+1:]; len(rest) > 0 {
		if _, err := p.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// lost drops a connection whose session failed and says the host is
// unreachable.
func (h *Host) lost(client *ssh.Client, op string, err error) error {
	if errors.Is(err, transport.ErrUnreachable) {
		return err
	}
	h.drop(client)
	return h.cfg.unreachable(op, err)
}

// exports renders env as `export K='v'` lines, sorted.
func exports(env map[string]string) (string, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if !envfile.ValidKey(k) {
			return "", fmt.Errorf("env: %q is not a valid variable name", k)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, shellquote.Quote(env[k]))
	}
	return b.String(), nil
}

// tail keeps the last max bytes written.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }

var _ transport.Transport = (*Host)(nil)
