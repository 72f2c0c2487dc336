package checkpoint

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// AuditRecord is one line of audit.jsonl: an action and its result.
type AuditRecord struct {
	Time    time.Time         `json:"time"`
	RunID   string            `json:"run_id,omitempty"`
	User    string            `json:"user,omitempty"`
	Event   string            `json:"event"`
	Step    string            `json:"step,omitempty"`
	Status  string            `json:"status,omitempty"`
	Message string            `json:"message,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// AuditPath is the audit log's path.
func (s *Store) AuditPath() string { return filepath.Join(s.dir, "audit.jsonl") }

// Audit appends rec to audit.jsonl and fsyncs it. The log is append-only: no
// method of this package rewrites or truncates it.
func (s *Store) Audit(rec AuditRecord) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return fsutil.AppendSync(s.AuditPath(), append(data, '\n'))
}

// Durations are the last recorded wall times of steps and compensations, by
// step ID ("undo:<id>" for compensations). The window check estimates from them.
type Durations map[string]time.Duration

func (s *Store) durationsPath() string { return filepath.Join(s.dir, "durations.json") }

// LoadDurations reads durations.json; an absent file gives an empty map.
func (s *Store) LoadDurations() (Durations, error) {
	d := Durations{}
	data, err := os.ReadFile(s.durationsPath())
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	return d, json.Unmarshal(data, &d)
}

// RecordDuration stores how long key took.
func (s *Store) RecordDuration(key string, took time.Duration) error {
	d, err := s.LoadDurations()
	if err != nil {
		d = Durations{}
	}
	d[key] = took
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.durationsPath(), append(data, '\n'), 0o600)
}

// Journal is an append-only JSON-lines file a long step writes as it goes
// (e.g. one line per migrated key), so a resumed run knows what is done.
type Journal struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// OpenJournal opens (creating) the journal of step/name for appending.
func (s *Store) OpenJournal(step, name string) (*Journal, error) {
	p, err := s.JournalPath(step, name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := terminateTornLine(f); err != nil {
		f.Close()
		return nil, err
	}
	return &Journal{path: p, f: f, w: bufio.NewWriter(f)}, nil
}

// terminateTornLine ends a torn last line (a crash in the middle of an
// append) with a newline, so the next record starts a line of its own
// instead of being glued to the fragment and skipped by ReadJournal.
func terminateTornLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return err
	}
	return f.Sync()
}

// Append buffers one record; Sync makes the buffered records durable.
func (j *Journal) Append(rec any) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := j.w.Write(data); err != nil {
		return err
	}
	return j.w.WriteByte('\n')
}

// Sync flushes and fsyncs the journal.
func (j *Journal) Sync() error {
	if err := j.w.Flush(); err != nil {
		return err
	}
	return j.f.Sync()
}

// Close syncs and closes the journal.
func (j *Journal) Close() error {
	if err := j.Sync(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

// ReadJournal calls fn for each record of step/name's journal, in order. A
// torn last line (a crash mid-write) is ignored. An absent journal is empty.
func (s *Store) ReadJournal(step, name string, fn func(line []byte) error) error {
	p, err := s.JournalPath(step, name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !json.Valid(line) {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return sc.Err()
}
