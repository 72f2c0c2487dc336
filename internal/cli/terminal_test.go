package cli

import (
	"os"
	"testing"
)

// /dev/null is a character device but no terminal: a run with stdin from it
// must not prompt. Neither is a pipe, a regular file or a non-file reader.
func TestIsTerminalRefusesNonTerminals(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, f := range map[string]any{"/dev/null": null, "pipe": r, "file": file, "nil file": (*os.File)(nil), "reader": os.Stdin.Name} {
		if isTerminal(f) {
			t.Errorf("isTerminal(%s) = true", name)
		}
	}
}
