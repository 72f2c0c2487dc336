package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// ErrNoState means the state directory holds no state.json yet.
var ErrNoState = errors.New("no checkpoint")

// Store is a state directory. Its methods are safe to call from one process
// holding the lock; concurrent writers are excluded by Lock.
type Store struct {
	dir string
}

// Open returns the store at dir, creating the directory (0700) if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "undo"), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	for _, sub := range []string{"journals", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// OpenExisting returns the store at dir without creating anything; it returns
// ErrNoState when dir does not exist.
func OpenExisting(dir string) (*Store, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoState
	} else if err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) statePath() string { return filepath.Join(s.dir, "state.json") }

// Load reads state.json; ErrNoState when there is none.
func (s *Store) Load() (*State, error) {
	data, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.statePath(), err)
	}
	if st.Version != SchemaVersion {
		return nil, fmt.Errorf("read %s: state version %d, this cutover reads version %d", s.statePath(), st.Version, SchemaVersion)
	}
	return &st, nil
}

// Save writes state.json atomically and durably.
func (s *Store) Save(st *State) error {
	st.Version = SchemaVersion
	st.UpdatedAt = time.Now().UTC()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.statePath(), append(data, '\n'), 0o600)
}

// Archive moves the current state, undo data and journals into
// history/<timestamp>/ so that a new run starts clean. The audit log and the
// recorded durations stay where they are.
func (s *Store) Archive() (string, error) {
	dest := filepath.Join(s.dir, "history", time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return "", err
	}
	for _, name := range []string{"state.json", "undo", "journals", "logs"} {
		from := filepath.Join(s.dir, name)
		if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(from, filepath.Join(dest, name)); err != nil {
			return "", err
		}
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return "", err
	}
	_, err := Open(s.dir)
	return dest, err
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (s *Store) undoPath(step, name string) (string, error) {
	if !safeName.MatchString(step) || !safeName.MatchString(name) {
		return "", fmt.Errorf("invalid undo blob name %q/%q", step, name)
	}
	return filepath.Join(s.dir, "undo", step+"."+name), nil
}

// WriteUndoBlob stores bytes a compensation needs (which may be secret) under
// undo/, mode 0600. The first write for a (step, name) wins: a re-run step
// must not replace the original with what it already changed, so a second
// write is ignored and reports false.
func (s *Store) WriteUndoBlob(step, name string, data []byte) (bool, error) {
	p, err := s.undoPath(step, name)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(p); err == nil {
		return false, nil
	}
	return true, fsutil.WriteFileAtomic(p, data, 0o600)
}

// ReadUndoBlob returns the bytes stored by WriteUndoBlob; ok is false when
// there are none.
func (s *Store) ReadUndoBlob(step, name string) (data []byte, ok bool, err error) {
	p, err := s.undoPath(step, name)
	if err != nil {
		return nil, false, err
	}
	data, err = os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// LogPath is the path of a step's output log (commands' stdout and stderr,
// secrets masked by the writer).
func (s *Store) LogPath(step string) string {
	return filepath.Join(s.dir, "logs", safeFile(step)+".log")
}

func safeFile(name string) string {
	if safeName.MatchString(name) {
		return name
	}
	return "invalid-name"
}

// JournalPath returns the path of a step's journal file (under journals/).
func (s *Store) JournalPath(step, name string) (string, error) {
	if !safeName.MatchString(step) || !safeName.MatchString(name) {
		return "", fmt.Errorf("invalid journal name %q/%q", step, name)
	}
	return filepath.Join(s.dir, "journals", step+"."+name+".jsonl"), nil
}
