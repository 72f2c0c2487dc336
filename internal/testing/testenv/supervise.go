package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// superviseBuild builds bin/supervise once per test process.
var superviseBuild struct {
	once sync.Once
	path string
	err  error
}

// SuperviseBinary returns the path of bin/supervise, built from
// cmd/supervise with the go command the first time it is
// called in a process (the build cache makes later builds cheap). The
// binary is built under a unique name and renamed into place, so test
// binaries of several packages can build it at the same time.
func SuperviseBinary() (string, error) {
	b := &superviseBuild
	b.once.Do(func() { b.path, b.err = buildSupervise() })
	return b.path, b.err
}

// buildSupervise runs go build for the supervise command.
func buildSupervise() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "bin", "supervise")
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command(goCommand(), "build", "-o", tmp, "./cmd/supervise")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building supervise: %v\n%s", err, msg)
	}
	return out, os.Rename(tmp, out)
}

// goCommand returns the go command: from PATH, else $GOROOT/bin/go.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// CutoverBinary builds cmd/cutover into t's temporary directory and
// returns its path, for tests that drive the real binary (kill it, stop
// it, read its exit status); a failed build fails t.
func CutoverBinary(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	cmd := exec.Command(goCommand(), "build", "-o", bin, "./cmd/cutover")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cutover: %v\n%s", err, out)
	}
	return bin
}
