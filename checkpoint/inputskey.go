package checkpoint

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/fsutil"
)

// inputsKeySize is the length of the inputs key in bytes.
const inputsKeySize = 32

// InputsKey returns the key a run's inputs are authenticated with
// (State.InputsMAC), creating it on first use: 32 random bytes in
// inputs.key, mode 0600, kept in the state directory and never printed or
// archived. Without it the MAC in state.json (and in `status --json`)
// cannot be used to test guesses of a sensitive input offline.
func (s *Store) InputsKey() ([]byte, error) {
	p := filepath.Join(s.dir, "inputs.key")
	key, err := os.ReadFile(p)
	if err == nil {
		if key, err = s.crypt.open(p, key); err != nil {
			return nil, err
		}
	}
	switch {
	case err == nil && len(key) == inputsKeySize:
		return key, nil
	case err == nil:
		return nil, fmt.Errorf("%s holds %d bytes, not a %d-byte key: remove it to start a new run", p, len(key), inputsKeySize)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read inputs key: %w", err)
	}
	key = make([]byte, inputsKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	stored, err := s.crypt.seal(key)
	if err != nil {
		return nil, fmt.Errorf("write inputs key: %w", err)
	}
	if err := fsutil.WriteFileAtomic(p, stored, 0o600); err != nil {
		return nil, fmt.Errorf("write inputs key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.putFile("inputs.key", stored); err != nil {
		return nil, fmt.Errorf("write inputs key: %w", err)
	}
	return key, nil
}

// NewRunInputsKey is InputsKey for a new run: when the kept key is
// encrypted and no given identity opens it, a new key replaces it (the key
// only authenticates the inputs of the run that uses it), so a new run
// needs no identity.
func (s *Store) NewRunInputsKey() ([]byte, error) {
	key, err := s.InputsKey()
	if !errors.Is(err, ErrNoIdentity) && !errors.Is(err, ErrWrongIdentity) {
		return key, err
	}
	if err := os.Remove(filepath.Join(s.dir, "inputs.key")); err != nil {
		return nil, fmt.Errorf("replace inputs key: %w", err)
	}
	return s.InputsKey()
}
