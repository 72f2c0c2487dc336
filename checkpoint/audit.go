package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// method of this package rewrites it. A torn last line (a crash or a full
// disk in the middle of an append) is first ended with a newline, so the
// record is not glued to the fragment.
func (s *Store) Audit(rec AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.appendAudit(rec); err != nil {
		return err
	}
	if err := s.syncAudit(); err != nil {
		return err
	}
	return s.shipTail("audit.jsonl")
}

// AuditWithNextSave appends rec to audit.jsonl like Audit but leaves its
// fsync to the next SaveStep, Save or Flush, which syncs the audit log in
// parallel with the checkpoint: a step's mark and its audit line then cost
// one wait for the disk, not two, and become durable together.
func (s *Store) AuditWithNextSave(rec AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendAudit(rec)
}

// Flush makes the audit lines AuditWithNextSave wrote durable.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.syncAudit(); err != nil {
		return err
	}
	return s.shipTail("audit.jsonl")
}

// appendAudit writes rec's line to the audit log, opening it (and ending a
// torn last line) unless a line written before is still waiting for its
// fsync. The caller holds s.mu.
func (s *Store) appendAudit(rec AuditRecord) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if s.audit == nil {
		f, err := os.OpenFile(s.AuditPath(), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		if err := terminateTornLine(f); err != nil {
			f.Close()
			return fmt.Errorf("audit log %s: repair torn last line: %w", s.AuditPath(), err)
		}
		s.audit = f
	}
	if _, err := s.audit.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("audit log %s: %w", s.AuditPath(), err)
	}
	return nil
}

// syncAudit fsyncs and closes the audit log if lines wait for their fsync.
// The caller holds s.mu.
func (s *Store) syncAudit() error {
	if s.audit == nil {
		return nil
	}
	f := s.audit
	s.audit = nil
	return s.syncClose(f)
}

func (s *Store) syncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit log %s: %w", s.AuditPath(), err)
	}
	return f.Close()
}

// withAuditSync runs write (a durable checkpoint write) while the audit
// lines waiting for their fsync are synced, and returns the first error.
// The caller holds s.mu.
func (s *Store) withAuditSync(write func() error) error {
	if s.audit == nil {
		return write()
	}
	f := s.audit
	s.audit = nil
	done := make(chan error, 1)
	go func() { done <- s.syncClose(f) }()
	werr := write()
	return errors.Join(werr, <-done)
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
	return s.RecordDurations(Durations{key: took})
}

// RecordDurations stores several measured durations with one durable write
// of durations.json; the engine records a run's at its end.
func (s *Store) RecordDurations(measured Durations) error {
	if len(measured) == 0 {
		return nil
	}
	d, err := s.LoadDurations()
	if err != nil {
		d = Durations{}
	}
	for k, v := range measured {
		d[k] = v
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := fsutil.WriteFileAtomic(s.durationsPath(), data, 0o600); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putFile("durations.json", data)
}

// Journal is an append-only JSON-lines file a long step writes as it goes
// (e.g. one line per migrated key), so a resumed run knows what is done.
type Journal struct {
	path string
	f    *os.File
	w    *bufio.Writer
	// store mirrors the journal's new lines after each Sync (nil: none).
	store *Store
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
	if err := dropTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: repair torn last line: %w", p, err)
	}
	return &Journal{path: p, f: f, w: bufio.NewWriter(f), store: s}, nil
}

// terminateTornLine ends a torn last line (a crash in the middle of an
// append) of the audit log with a newline, so the next record starts a line
// of its own; the fragment stays, as evidence.
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

// dropTornLine cuts a journal's torn last line (a crash in the middle of an
// append, never synced, so never relied on) off, so that the next record
// starts a line of its own and every line but the last is a whole record:
// ReadJournal refuses an invalid line anywhere else.
func dropTornLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 4096)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == fi.Size() {
		return nil
	}
	if err := f.Truncate(end); err != nil {
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
	if err := j.f.Sync(); err != nil {
		return err
	}
	return j.ship()
}

// ship mirrors the journal's synced lines to the shared store, if any.
func (j *Journal) ship() error {
	if j.store == nil || j.store.remote == nil {
		return nil
	}
	j.store.mu.Lock()
	defer j.store.mu.Unlock()
	return j.store.shipTail(filepath.Join("journals", filepath.Base(j.path)))
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
// torn last line (a crash mid-write) is ignored; an invalid line anywhere
// else is a *CorruptError, and fn sees no record after it. An absent journal
// is empty.
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
	bad := 0 // the number of the first invalid line, held until a later line proves it is not the last
	for n := 1; sc.Scan(); n++ {
		if bad != 0 {
			return &CorruptError{Path: p, Problem: fmt.Sprintf("line %d is not a JSON record, and it is not the torn last line of a crash", bad)}
		}
		line := sc.Bytes()
		if !json.Valid(line) {
			bad = n
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return sc.Err()
}
