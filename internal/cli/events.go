package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/secret"
)

// Lines of the events log besides the engine's events.
const (
	sessionStart = "session.start" // a run, rollback or rehearse began: command, pid
	sessionEnd   = "session.end"   // it ended: exit code
	resultType   = "result"        // the engine's result (one per rehearsal)
)

// eventsLogName is the events log in the state directory: every event of
// every run, rollback and rehearse, one JSON line each (the --json lines),
// each invocation from a session.start line to a session.end line. It is not
// archived with a run, so `status --follow` tails one file.
const eventsLogName = "events.jsonl"

// sessionLine opens and closes an invocation's part of the events log.
type sessionLine struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Command  string    `json:"command,omitempty"`
	PID      int       `json:"pid,omitempty"`
	ExitCode *int      `json:"exit_code,omitempty"`
}

// eventsLog appends events to the state directory's events log, masked
// through the plan's secret set. The file is opened per line, as the run
// log is: no file stays open for writing (a state directory can be
// remounted or archived during a run). A failed write is dropped: the log
// is for watching a run, the checkpoint and the audit log are its record.
type eventsLog struct {
	mu      sync.Mutex
	f       *appendFile // nil once ended
	secrets *secret.Set
}

func openEventsLog(dir string, secrets *secret.Set, command string) (*eventsLog, error) {
	f := &appendFile{path: filepath.Join(dir, eventsLogName)}
	data, _ := json.Marshal(sessionLine{Time: time.Now().UTC(), Type: sessionStart, Command: command, PID: os.Getpid()})
	if _, err := f.Write(append(data, '\n')); err != nil {
		return nil, fmt.Errorf("open the events log: %w", err)
	}
	return &eventsLog{f: f, secrets: secrets}, nil
}

// Emit implements event.Sink.
func (l *eventsLog) Emit(e event.Event) { l.write(e) }

// write appends v as one line, in one write(2): a reader never sees half
// a line that is not the last.
func (l *eventsLog) write(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	data = append([]byte(l.secrets.Redact(string(data))), '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_, _ = l.f.Write(data)
	}
}

// end writes the session's last line and closes the log.
func (l *eventsLog) end(code int) {
	l.write(sessionLine{Time: time.Now().UTC(), Type: sessionEnd, ExitCode: &code})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f = nil
}

// tee sends each event to every sink.
type tee []event.Sink

// Emit implements event.Sink.
func (t tee) Emit(e event.Event) {
	for _, s := range t {
		s.Emit(e)
	}
}

// lastSession returns the offset of the last session.start line in data,
// or -1.
func lastSession(data []byte) int {
	marker := []byte(`"type":"` + sessionStart + `"`)
	for end := len(data); end > 0; {
		start := bytes.LastIndexByte(data[:end], '\n') + 1
		if end > start && bytes.Contains(data[start:end], marker) {
			return start
		}
		end = start - 1
	}
	return -1
}
