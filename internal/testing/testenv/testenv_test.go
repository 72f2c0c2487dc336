package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records Skip and Fatal, ending the goroutine as testing.T does.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any) { f.failed = fmt.Sprint(args...); runtime.Goexit() }

// binWithFake calls Bin(name) on a fakeTB.
func binWithFake(name string) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() { defer close(done); Bin(f, name) }()
	<-done
	return f
}

func TestBinMissingSkipsOrFailsInCI(t *testing.T) {
	t.Setenv("CI", "")
	f := binWithFake("no-such-tool")
	if f.failed != "" || !strings.Contains(f.skipped, "bin/no-such-tool missing: run `make tools`") {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip naming make tools", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	f = binWithFake("no-such-tool")
	if f.skipped != "" || !strings.Contains(f.failed, "bin/no-such-tool missing: run `make tools`") {
		t.Errorf("in CI: skipped %q, failed %q; want a failure naming make tools", f.skipped, f.failed)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testing", "testenv", "testenv.go")); err != nil {
		t.Errorf("RepoRoot = %s, which does not hold this package: %v", root, err)
	}
}

func TestSuperviseBinary(t *testing.T) {
	p, err := SuperviseBinary()
	if err != nil {
		t.Fatal(err)
	}
	_, err = runCommand(nil, p, "status", "--dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("supervise status of an empty dir = %v, want exit status 3", err)
	}
}
