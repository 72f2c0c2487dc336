//go:build unix

package fsutil

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReplaceFileKeepsOwnerAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "minio")
	writeFile(t, path, "A=1\n", 0o640)
	if err := os.Chown(path, 4242, 4343); err != nil {
		t.Skip("chown:", err)
	}
	if err := ReplaceFile(path, []byte("A=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 4242 || st.Gid != 4343 {
		t.Errorf("owner = %d:%d, want 4242:4343", st.Uid, st.Gid)
	}
	checkFile(t, path, "A=2\n", 0o640)
}
