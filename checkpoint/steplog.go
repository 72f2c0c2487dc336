package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// state.log holds the step records saved since state.json was last written
// whole: one sealed JSON line per SaveStep, each naming the digest of the
// state.json it extends ("base"). Load reads state.json and applies the
// lines of its base in order; Save writes state.json whole (the compaction)
// and removes the log, so a line of an older base, left by a crash between
// the two, is ignored: its content is already in the newer state.json. A
// step's mark thus costs one appended line and one fsync, however many steps
// the plan has.

// stepRecord is one line of state.log: one step's record and the run-level
// fields a step changes.
type stepRecord struct {
	Base                string     `json:"base"`
	Index               int        `json:"index"`
	Step                StepState  `json:"step"`
	WindowStart         *time.Time `json:"window_start,omitempty"`
	PastPointOfNoReturn bool       `json:"past_point_of_no_return"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

func (s *Store) logPath() string { return filepath.Join(s.dir, "state.log") }

// SaveStep makes the record of step id in st durable, with st's WindowStart
// and PastPointOfNoReturn, by appending one line to state.log (one fsync).
// Every other change to st needs Save. When the store has neither written
// nor read state.json, SaveStep is Save.
func (s *Store) SaveStep(st *State, id string) error {
	i := st.index(id)
	if i < 0 {
		return fmt.Errorf("save step %s: not in the checkpoint", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == "" {
		return s.saveLocked(st)
	}
	st.UpdatedAt = time.Now().UTC()
	line, _, err := sealCompact(stepRecord{Base: s.base, Index: i, Step: st.Steps[i], WindowStart: st.WindowStart,
		PastPointOfNoReturn: st.PastPointOfNoReturn, UpdatedAt: st.UpdatedAt})
	if err != nil {
		return err
	}
	if err := s.withAuditSync(func() error { return s.appendLog(append(line, '\n')) }); err != nil {
		return fmt.Errorf("save %s: %w", s.logPath(), err)
	}
	if s.remote == nil {
		return nil
	}
	if err := s.shipTail("state.log"); err != nil {
		return err
	}
	return s.shipTail("audit.jsonl")
}

// appendLog writes line to state.log and fsyncs it. The file is opened
// per line (a torn last line is cut off first) and closed after, so no
// handle stays open in the state directory between steps; the first line
// after a compaction creates the file, and the directory is synced so the
// file itself survives a crash.
func (s *Store) appendLog(line []byte) error {
	f, err := os.OpenFile(s.logPath(), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := dropTornLine(f); err != nil {
		return err
	}
	if !s.logSynced {
		if err := fsutil.SyncDir(s.dir); err != nil {
			return err
		}
		s.logSynced = true
	}
	if _, err := f.Write(line); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// dropLog removes state.log: state.json now holds everything.
// A failed removal is harmless (its lines name an older base).
func (s *Store) dropLog() {
	s.logSynced = false
	_ = os.Remove(s.logPath())
}

// replayLog applies the lines of state.log that extend the state.json
// whose digest is base. The last line, if it lacks its newline, is a torn
// append (never synced, so never relied on) and is ignored; any other line
// that fails its check is a *CorruptError.
func (s *Store) replayLog(st *State, base string) error {
	data, err := os.ReadFile(s.logPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for n := 1; len(data) > 0; n++ {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return nil // torn last line
		}
		line := data[:end]
		data = data[end+1:]
		if err := applyRecord(st, base, line); err != nil {
			return &CorruptError{Path: s.logPath(), Problem: fmt.Sprintf("line %d %s", n, err)}
		}
	}
	return nil
}

func applyRecord(st *State, base string, line []byte) error {
	body, err := unseal("", line)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return errors.New(ce.Problem)
		}
		return err
	}
	var rec stepRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return fmt.Errorf("is not a step record: %w", err)
	}
	if rec.Base != base {
		return nil // written before state.json was last saved whole
	}
	if rec.Index < 0 || rec.Index >= len(st.Steps) || st.Steps[rec.Index].ID != rec.Step.ID {
		return fmt.Errorf("names step %s at %d, which state.json does not hold", rec.Step.ID, rec.Index)
	}
	st.Steps[rec.Index] = rec.Step
	st.WindowStart, st.PastPointOfNoReturn, st.UpdatedAt = rec.WindowStart, rec.PastPointOfNoReturn, rec.UpdatedAt
	return nil
}
