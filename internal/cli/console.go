package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/secret"
)

// console is cutover's standard output and standard error as the commands
// see them. Each stream writes to what the process was given (a terminal,
// a pipe) and, once run or rollback attaches the state directory's run log,
// to that log as well. Nobody reading never stops a run: the first failed
// write to the terminal (EPIPE after `| head`, EIO from a hung-up terminal)
// or a SIGHUP detaches the terminal, and the streams go on into the run log
// alone, every write reporting success.
type console struct {
	stdout, stderr *stream

	mu      sync.Mutex // serialises log writes, so lines of the two streams never mix
	logPath string     // "" until attached
	log     io.Writer  // masking writer over the log file

	detached atomic.Bool

	events atomic.Pointer[eventsLog] // the state directory's events log, once attached
}

func (c *console) eventsLog() *eventsLog     { return c.events.Load() }
func (c *console) setEventsLog(l *eventsLog) { c.events.Store(l) }

// endEvents closes the events log's session with the exit code.
func (c *console) endEvents(code int) {
	if l := c.events.Swap(nil); l != nil {
		l.end(code)
	}
}

// stream is one of the console's two streams.
type stream struct {
	c    *console
	mu   sync.Mutex // one write at a time to term
	term io.Writer
	raw  any // what the process was given, for isTerminal
}

func newConsole(stdout, stderr io.Writer) *console {
	c := &console{}
	c.stdout = &stream{c: c, term: stdout, raw: stdout}
	c.stderr = &stream{c: c, term: stderr, raw: stderr}
	return c
}

// Write copies p to the run log, if attached, then to the terminal unless it
// is detached. It never fails: output is a copy of what the checkpoint and
// the audit log record, and losing the terminal must not stop a run.
func (s *stream) Write(p []byte) (int, error) {
	s.c.toLog(p)
	s.terminal(p)
	return len(p), nil
}

// terminal writes p to the terminal only (live indicators, which make no
// sense in a log), detaching it on the first error.
func (s *stream) terminal(p []byte) {
	if s.c.detached.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.term.Write(p); err != nil {
		s.c.detached.Store(true)
	}
}

// terminalOnly is s without the run log.
func (s *stream) terminalOnly() io.Writer { return terminalWriter{s} }

type terminalWriter struct{ s *stream }

func (t terminalWriter) Write(p []byte) (int, error) {
	t.s.terminal(p)
	return len(p), nil
}

func (c *console) toLog(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		_, _ = c.log.Write(p)
	}
}

// attachLog makes every later line of both streams also go to path (created
// 0600, appended to), masked through secrets, after a header naming the
// command. The file is opened per write, so archiving the state directory's
// logs/ during the run leaves later lines in a new run.log.
func (c *console) attachLog(path string, secrets *secret.Set, command string) error {
	w := &appendFile{path: path}
	header := fmt.Sprintf("== %s cutover %s (pid %d)\n", time.Now().UTC().Format(time.RFC3339), command, os.Getpid())
	if _, err := w.Write([]byte(header)); err != nil {
		return fmt.Errorf("open the run log: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logPath, c.log = path, secrets.Writer(w)
	return nil
}

// hangup is what SIGHUP does: say so, then detach the terminal (whoever
// watched it is gone; a write to it could block or fail).
func (c *console) hangup() {
	c.mu.Lock()
	where := "the state directory's logs/run.log"
	if c.logPath != "" {
		where = c.logPath
	}
	c.mu.Unlock()
	fmt.Fprintf(c.stderr, "cutover: hangup: the terminal is gone; cutover goes on to the end of the run or of its rollback, its output continues in %s\n", where)
	c.detached.Store(true)
}

// appendFile appends each write to path, opening it per write.
type appendFile struct{ path string }

func (a *appendFile) Write(p []byte) (int, error) {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

var ignorePipe sync.Once

// watchHangup makes SIGPIPE harmless for the life of the process (a write
// to a closed stdout or stderr then fails with EPIPE, which the console
// absorbs, instead of killing cutover) and, unless SIGHUP was already
// ignored (nohup), turns SIGHUP into c.hangup. Both are caught, not ignored:
// caught signals are reset to their defaults in the commands cutover runs,
// ignored ones would be inherited. The returned function stops watching
// SIGHUP.
func watchHangup(c *console) (stop func()) {
	ignorePipe.Do(func() { signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE) })
	if signal.Ignored(syscall.SIGHUP) {
		return func() {}
	}
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hups:
				c.hangup()
			}
		}
	}()
	return func() {
		signal.Stop(hups)
		close(done)
	}
}
