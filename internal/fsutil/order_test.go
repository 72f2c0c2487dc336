package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// recordSteps sets hook to record every step of a write, failing at fail
// ("" for none), and restores it when the test ends.
func recordSteps(t *testing.T, fail string) *[]string {
	t.Helper()
	var steps []string
	hook = func(step string) error {
		steps = append(steps, step)
		if step == fail {
			return errors.New("injected failure at " + step)
		}
		return nil
	}
	t.Cleanup(func() { hook = nil })
	return &steps
}

// TestWriteOrder: the content is fsynced before the rename and the directory
// after it, and the mode is set before a byte is written (owner before mode:
// chown clears setuid). A crash before the rename leaves the old file; after
// the directory's fsync, the new one.
func TestWriteOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	steps := recordSteps(t, "")
	if err := WriteFileAtomic(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{"create", "chmod", "write", "fsync", "close", "rename", "fsync-dir"}
	if !reflect.DeepEqual(*steps, want) {
		t.Errorf("steps %v, want %v", *steps, want)
	}
	*steps = nil
	if err := WriteFileMeta(path, []byte("newer"), Meta{Mode: 0o640, UID: os.Getuid(), GID: os.Getgid(), HasOwner: true}); err != nil {
		t.Fatal(err)
	}
	want = []string{"create", "chown", "chmod", "write", "fsync", "close", "rename", "fsync-dir"}
	if !reflect.DeepEqual(*steps, want) {
		t.Errorf("with an owner: steps %v, want %v", *steps, want)
	}
	checkFile(t, path, "newer", 0o640)
}

// TestFailureAtEachStep: a write that fails at any step before the rename
// leaves the old content, its mode and no temporary file; one that fails at
// the directory's fsync has renamed (the new content is in place but its
// durability unknown) and says so by its error.
func TestFailureAtEachStep(t *testing.T) {
	for _, step := range []string{"create", "chmod", "write", "fsync", "close", "rename", "fsync-dir"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "minio")
			writeFile(t, path, "old", 0o640)
			recordSteps(t, step)
			err := ReplaceFile(path, []byte("new"), 0o600)
			if err == nil || !strings.Contains(err.Error(), "injected failure at "+step) {
				t.Fatalf("ReplaceFile failing at %s: %v", step, err)
			}
			hook = nil
			want := "old"
			if step == "fsync-dir" {
				want = "new"
			}
			checkFile(t, path, want, 0o640)
			checkOnlyFiles(t, dir, "minio")
		})
	}
}

// TestWriteStream: the content comes from the function; its error aborts
// the write and leaves the old file.
func TestWriteStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.age")
	if err := WriteStream(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, "backup")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "backup", 0o600)
	cause := errors.New("the key store went away")
	err := WriteStream(path, 0o600, func(w io.Writer) error {
		io.WriteString(w, "half")
		return cause
	})
	if !errors.Is(err, cause) {
		t.Errorf("WriteStream: %v, want the content's error", err)
	}
	checkFile(t, path, "backup", 0o600)
	checkOnlyFiles(t, dir, "keys.age")
}

// TestWriteFileAtomicSetsMode: WriteFileAtomic gives exactly its mode, even
// over a file that had another (the checkpoint's files are 0600 whatever
// was there), where ReplaceFile keeps the old one.
func TestWriteFileAtomicSetsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	writeFile(t, path, "old", 0o644)
	if err := WriteFileAtomic(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "new", 0o600)
	if err := ReplaceFile(path, []byte("newer"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "newer", 0o600)
}

// TestWriteTemp: a synced temporary file beside the target, which the
// caller puts in place.
func TestWriteTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	tmp, err := WriteTemp(path, []byte("k"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(tmp) != dir || !strings.HasPrefix(filepath.Base(tmp), ".key.tmp-") {
		t.Errorf("temporary file %s: want .key.tmp-* in %s", tmp, dir)
	}
	checkFile(t, tmp, "k", 0o600)
}
