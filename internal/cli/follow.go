package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
)

// followPoll is how often `status --follow` looks for new lines.
const followPoll = 100 * time.Millisecond

// follow is `cutover status --follow`: it prints the events of the last
// run, rollback or rehearse of the plan from its session.start line in the
// events log, then the new ones as they are written, until its session.end
// line, and exits with that session's exit code. A session whose process
// died without its session.end (SIGKILL) ends the follow with exit 1 once
// every line is read. The run goes on whatever happens to the terminal
// that started it: follow reads the state directory only.
func follow(c *cli.Context, e *env, p *plan.Plan) error {
	dir, err := stateDir(c, p)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, eventsLogName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fail(ExitFailed, fmt.Errorf("no run of plan %q has written events in %s: nothing to follow", p.Name, dir), "start one: cutover run "+p.File)
	}
	if err != nil {
		return fail(ExitFailed, err, "")
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return fail(ExitFailed, err, "")
	}
	start := lastSession(data)
	if start < 0 {
		return fail(ExitFailed, fmt.Errorf("%s holds no session: nothing to follow", path), "start one: cutover run "+p.File)
	}
	if _, err := f.Seek(int64(start), io.SeekStart); err != nil {
		return fail(ExitFailed, err, "")
	}
	out := p.Secrets.Writer(e.stdout)
	fw := &follower{json: c.Bool("json"), out: out}
	if !fw.json {
		fw.r = newHumanRenderer(out, p.Secrets.Writer(e.con.stdout.terminalOnly()), isTerminal(e.con.stdout.raw))
		defer fw.r.Close()
	}
	return fw.tail(c, bufio.NewReader(f))
}

// follower prints the lines of one session.
type follower struct {
	json bool
	out  io.Writer
	r    *humanRenderer
	pid  int
	cmd  string
}

// tail reads lines until the session ends.
func (fw *follower) tail(c *cli.Context, rd *bufio.Reader) error {
	var partial []byte
	for {
		chunk, err := rd.ReadBytes('\n')
		partial = append(partial, chunk...)
		if err == nil {
			if code, done := fw.line(partial); done {
				if code != ExitOK {
					return fail(code, fmt.Errorf("cutover %s exited %d", fw.cmd, code), "cutover status for what it left")
				}
				return nil
			}
			partial = partial[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fail(ExitFailed, err, "")
		}
		if !alive(fw.pid) {
			// Its last lines were written before it died: read them first.
			if more, _ := rd.Peek(1); len(more) > 0 {
				continue
			}
			return fail(ExitFailed, fmt.Errorf("cutover %s (pid %d) ended without finishing its events: it was killed", fw.cmd, fw.pid),
				"cutover status shows where it stopped and what to run next")
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-time.After(followPoll):
		}
	}
}

// line prints one line; done is true at the session's end, with its code.
func (fw *follower) line(raw []byte) (code int, done bool) {
	var head struct {
		Type     string   `json:"type"`
		Command  string   `json:"command"`
		PID      int      `json:"pid"`
		ExitCode *int     `json:"exit_code"`
		Outcome  string   `json:"outcome"`
		Error    string   `json:"error"`
		Next     string   `json:"next"`
		Lines    []string `json:"lines"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return 0, false // not a line of ours
	}
	if fw.json {
		_, _ = fw.out.Write(bytes.TrimRight(raw, "\n"))
		_, _ = fw.out.Write([]byte("\n"))
	}
	switch head.Type {
	case sessionStart:
		fw.pid, fw.cmd = head.PID, head.Command
		fw.human("following cutover %s (pid %d)", head.Command, head.PID)
	case sessionEnd:
		code = ExitFailed
		if head.ExitCode != nil {
			code = *head.ExitCode
		}
		fw.human("cutover %s ended: exit %d", fw.cmd, code)
		return code, true
	case resultType:
		fw.human("result: %s", head.Outcome)
		if head.Error != "" {
			fw.human("error: %s", head.Error)
		}
		if head.Next != "" {
			fw.human("next: %s", head.Next)
		}
	case "verdict":
		for _, l := range head.Lines {
			fw.human("%s", l)
		}
	default:
		var ev event.Event
		if fw.r != nil && json.Unmarshal(raw, &ev) == nil {
			fw.r.Emit(ev)
		}
	}
	return 0, false
}

func (fw *follower) human(format string, args ...any) {
	if fw.r == nil {
		return
	}
	fw.r.mu.Lock()
	defer fw.r.mu.Unlock()
	fw.r.line(format, args...)
}

// alive reports whether process pid exists (on this host).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
