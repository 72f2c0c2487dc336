package checkpoint_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cutover/cutover/checkpoint"
)

// TestInputsKey: created once, 32 bytes, 0600, the same on every call and
// after an archive; a damaged key is an error, not a silent new key.
func TestInputsKey(t *testing.T) {
	dir := t.TempDir()
	s, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := s.InputsKey()
	if err != nil || len(k1) != 32 {
		t.Fatalf("InputsKey = %d bytes, %v", len(k1), err)
	}
	fi, err := os.Stat(filepath.Join(dir, "inputs.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("inputs.key: %v, mode %v", err, fi.Mode().Perm())
	}
	if _, err := s.Archive(); err != nil {
		t.Fatal(err)
	}
	k2, err := s.InputsKey()
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("InputsKey changed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inputs.key"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InputsKey(); err == nil {
		t.Error("a 5-byte inputs.key was accepted")
	}
}
