package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/cutover/cutover/internal/fsutil"
)

// FallbackDir is where a run that could not write its state directory leaves
// its record: $TMPDIR/cutover-<uid>, mode 0700, outside the state directory
// (usually another file system, so a full or read-only state directory does
// not stop it). It is refused if it is not a directory of this user's.
func FallbackDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("cutover-%d", os.Getuid()))
}

// fallbackPrefix ties fallback files to this state directory (by its
// absolute path), so every command that reads the directory finds them.
func (s *Store) fallbackPrefix() string {
	abs, err := filepath.Abs(s.dir)
	if err != nil {
		abs = s.dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "state-" + hex.EncodeToString(sum[:8]) + "-"
}

// WriteFallback writes st, sealed like state.json, to
// FallbackDir()/state-<dir hash>-<run ID>.json and returns its path. It is
// what the engine does when state.json cannot be written: the file is the
// checkpoint the state directory should hold, and can be moved there as
// state.json once the directory is writable again.
func (s *Store) WriteFallback(st *State) (string, error) {
	dir := FallbackDir()
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("fallback directory: %w", err)
	}
	if err := privateDir(dir); err != nil {
		return "", err
	}
	st.Version = SchemaVersion
	data, _, err := seal(st)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, s.fallbackPrefix()+st.RunID+".json")
	if err := fsutil.WriteFileAtomic(p, data, 0o600); err != nil {
		return "", fmt.Errorf("write fallback record %s: %w", p, err)
	}
	return p, nil
}

// Fallbacks lists the fallback records written for this state directory
// that are still there: while one is, state.json is older than what the
// run did.
func (s *Store) Fallbacks() []string {
	out, _ := filepath.Glob(filepath.Join(FallbackDir(), s.fallbackPrefix()+"*.json"))
	sort.Strings(out)
	return out
}
