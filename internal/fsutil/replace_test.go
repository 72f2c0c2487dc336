package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceFileKeepsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "minio")
	writeFile(t, path, "A=1\n", 0o640)
	if err := ReplaceFile(path, []byte("A=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "A=2\n", 0o640)
	checkOnlyFiles(t, dir, "minio")
}

func TestReplaceFileNewFileUsesPerm(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.env")
	if err := ReplaceFile(path, []byte("A=1\n"), 0o604); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "A=1\n", 0o604)
	checkOnlyFiles(t, dir, "new.env")
}

func TestReplaceFileRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := ReplaceFile("rel.env", []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(dir, "rel.env"), "A=1\n", 0o600)
	checkOnlyFiles(t, dir, "rel.env")
}

func TestReplaceFileFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.env")
	link := filepath.Join(dir, "link.env")
	writeFile(t, target, "A=1\n", 0o644)
	if err := os.Symlink("real.env", link); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	if err := ReplaceFile(link, []byte("A=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v %v", fi, err)
	}
	checkFile(t, target, "A=2\n", 0o644)
	checkOnlyFiles(t, dir, "link.env", "real.env")
}

func TestReplaceFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(sub, []byte("x"), 0o600); err == nil {
		t.Error("WriteAtomic over a directory succeeded")
	}
	checkOnlyFiles(t, dir, "d")
	if err := ReplaceFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("WriteAtomic into a missing directory succeeded")
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "minio")
	writeFile(t, path, "A=1\r\n", 0o640)
	data, meta, err := ReadFile(path)
	if err != nil || string(data) != "A=1\r\n" || meta.Mode != 0o640 {
		t.Errorf("ReadFile = %q, %v, %v", data, meta, err)
	}
	if _, _, err := ReadFile(dir); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	if _, _, err := ReadFile(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

func writeFile(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // undo the umask
		t.Fatal(err)
	}
}

func checkFile(t *testing.T, path, want string, perm os.FileMode) {
	t.Helper()
	data, meta, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want || meta.Mode != perm {
		t.Errorf("%s = %q mode %v; want %q mode %v", path, data, meta.Mode, want, perm)
	}
}

// checkOnlyFiles fails if dir holds anything but names, such as a leftover
// temporary file.
func checkOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("directory holds %q, want %q", got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("directory holds %q, want %q", got, names)
		}
	}
}
