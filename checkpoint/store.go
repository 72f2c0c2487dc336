package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// ErrNoState means the state directory holds no state.json yet.
var ErrNoState = errors.New("no checkpoint")

// Store is a state directory. Its methods are safe to call from one process
// holding the lock; concurrent writers are excluded by Lock.
type Store struct {
	dir string

	mu   sync.Mutex
	base string // digest of the state.json written or read last; "" if none
	// logSynced: state.log's directory entry is durable (synced once after
	// the first line following a Save).
	logSynced bool
	// audit holds audit lines written by AuditWithNextSave until their fsync.
	audit *os.File
	// remote is the shared store every write is mirrored to; nil for a
	// local directory (see Remote).
	remote *remote
	// crypt encrypts undo blobs and the inputs key; nil writes them plain.
	crypt *Crypt
	// written holds the plain bytes of the undo blobs this process wrote
	// encrypted, so its own automatic rollback needs no identity.
	written map[string][]byte
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

// Load reads state.json and the step records state.log adds to it (see
// SaveStep); ErrNoState when there is none. A file that fails
// its digest check (truncated, damaged or edited by hand), or an undo blob
// it records that is missing or fails its digest, is a *CorruptError:
// nothing in it is used.
func (s *Store) Load() (*State, error) {
	data, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	body, err := unseal(s.statePath(), data)
	if err != nil {
		if v := peekVersion(data); v != 0 && v != SchemaVersion {
			return nil, fmt.Errorf("read %s: state version %d, this cutover reads version %d", s.statePath(), v, SchemaVersion)
		}
		return nil, err
	}
	var st State
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, &CorruptError{Path: s.statePath(), Problem: "does not hold a checkpoint: " + err.Error()}
	}
	if st.Version != SchemaVersion {
		return nil, fmt.Errorf("read %s: state version %d, this cutover reads version %d", s.statePath(), st.Version, SchemaVersion)
	}
	base := Digest(body)
	if err := s.replayLog(&st, base); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.base = base
	s.mu.Unlock()
	if err := s.checkBlobs(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// checkBlobs reads every undo blob st records and checks its digest, so a
// damaged blob is found when the checkpoint is loaded, before any command
// acts on it, not halfway through a rollback.
func (s *Store) checkBlobs(st *State) error {
	for _, step := range st.Steps {
		for name, digest := range step.Blobs {
			if s.crypt == nil || len(s.crypt.Identities) == 0 {
				if ok, err := s.encryptedBlob(step.ID, name); ok || err != nil {
					continue // checked when it is decrypted (ReadUndoBlob); a missing one is found below
				}
			}
			if _, err := s.ReadUndoBlob(step.ID, name, digest); err != nil {
				return err
			}
		}
	}
	return nil
}

// peekVersion is the "version" of a state file that failed its check, so
// that a file from another cutover version is named as such; 0 if unknown.
func peekVersion(data []byte) int {
	var v struct{ Version int }
	if json.Unmarshal(data, &v) != nil {
		return 0
	}
	return v.Version
}

// Save writes state.json whole, atomically and durably, sealed with its
// digest, and drops state.log, whose records it now holds.
func (s *Store) Save(st *State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked(st)
}

func (s *Store) saveLocked(st *State) error {
	st.Version = SchemaVersion
	st.UpdatedAt = time.Now().UTC()
	if s.remote != nil {
		st.Serial = max(st.Serial, s.remote.serial) + 1
	}
	data, digest, err := seal(st)
	if err != nil {
		return err
	}
	if err := s.withAuditSync(func() error { return fsutil.WriteFileAtomic(s.statePath(), data, 0o600) }); err != nil {
		return fmt.Errorf("save %s: %w", s.statePath(), err)
	}
	s.base = digest
	s.dropLog()
	if s.remote == nil {
		return nil
	}
	if err := s.putState(data, st.Serial); err != nil {
		return err
	}
	return s.shipTail("audit.jsonl")
}

// Archive moves the current state, undo data and journals into
// history/<timestamp>/ so that a new run starts clean. The audit log and the
// recorded durations stay where they are.
func (s *Store) Archive() (string, error) {
	dest := filepath.Join(s.dir, "history", time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.base, s.logSynced = "", false
	s.mu.Unlock()
	for _, name := range []string{"state.json", "state.log", "undo", "journals", "logs"} {
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
	if _, err := Open(s.dir); err != nil {
		return "", err
	}
	if s.remote != nil {
		if err := s.archiveRemote(filepath.Base(dest)); err != nil {
			return "", err
		}
	}
	return dest, nil
}

func (s *Store) undoPath(step, name string) (string, error) {
	f, err := stepFile(step, name, "")
	if err != nil {
		return "", fmt.Errorf("undo blob: %w", err)
	}
	return filepath.Join(s.dir, "undo", f), nil
}

// WriteUndoBlob stores bytes a compensation needs (which may be secret) as
// undo/<step>.<name>, mode 0600, replacing what is there, and returns their
// Digest. The caller records the digest in state.json (StepState.Blobs): a
// blob is trusted only through that record, and a blob without one is a
// leftover of a crash before the record was saved.
func (s *Store) WriteUndoBlob(step, name string, data []byte) (string, error) {
	p, err := s.undoPath(step, name)
	if err != nil {
		return "", err
	}
	stored, err := s.crypt.seal(data)
	if err != nil {
		return "", fmt.Errorf("save undo data %s: %w", p, err)
	}
	if err := fsutil.WriteFileAtomic(p, stored, 0o600); err != nil {
		return "", fmt.Errorf("save undo data %s: %w", p, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crypt.Encrypts() {
		if s.written == nil {
			s.written = map[string][]byte{}
		}
		s.written[p] = append([]byte(nil), data...)
	}
	if err := s.putFile(filepath.Join("undo", filepath.Base(p)), stored); err != nil {
		return "", fmt.Errorf("save undo data: %w", err)
	}
	return Digest(data), nil
}

// encryptedBlob reports whether the undo blob step/name exists and is
// encrypted.
func (s *Store) encryptedBlob(step, name string) (bool, error) {
	p, err := s.undoPath(step, name)
	if err != nil {
		return false, err
	}
	f, err := os.Open(p)
	if err != nil {
		return false, nil // ReadUndoBlob reports it
	}
	defer f.Close()
	head := make([]byte, len(ageHeader))
	n, _ := f.Read(head)
	return Encrypted(head[:n]), nil
}

// ReadUndoBlob returns the bytes WriteUndoBlob stored, checked against the
// digest recorded for them: a missing blob or one with other content is a
// *CorruptError.
func (s *Store) ReadUndoBlob(step, name, digest string) ([]byte, error) {
	p, err := s.undoPath(step, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &CorruptError{Path: p, Problem: "is missing: state.json records undo data " + shortDigest(digest) + " for it"}
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	plain, mine := s.written[p]
	s.mu.Unlock()
	if mine && Digest(plain) == digest {
		data = plain // written (encrypted) by this process: no identity needed
	} else if data, err = s.crypt.open(p, data); err != nil {
		return nil, err
	}
	if got := Digest(data); got != digest {
		return nil, &CorruptError{Path: p, Problem: "does not match the digest state.json records for it: it was changed outside cutover or damaged", Want: digest, Got: got}
	}
	return data, nil
}

// LogPath is the path of a step's output log (commands' stdout and stderr,
// secrets masked by the writer); an invalid step ID gets "invalid-name.log".
func (s *Store) LogPath(step string) string {
	name := step
	if ValidStepID(step) != nil {
		name = "invalid-name"
	}
	return filepath.Join(s.dir, "logs", name+".log")
}

// RunLogPath is the run log: every line run and rollback print, masked,
// appended across invocations (see internal/cli's console).
func (s *Store) RunLogPath() string {
	return filepath.Join(s.dir, "logs", "run.log")
}

// JournalPath returns the path of a step's journal file (under journals/).
func (s *Store) JournalPath(step, name string) (string, error) {
	f, err := stepFile(step, name, ".jsonl")
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	return filepath.Join(s.dir, "journals", f), nil
}
