package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/supervisor"
)

// Environment of TestHelperFailingOnPurpose: how to end ("fail" or
// "panic") and where to record what it started.
const (
	helperModeEnv = "CUTOVER_TESTENV_HELPER_MODE"
	helperOutEnv  = "CUTOVER_TESTENV_HELPER_OUT"
)

// helperRecord is what the helper test started.
type helperRecord struct {
	PIDs []int    // KES, MinIO's supervisor, MinIO
	Dirs []string // the servers' directories
}

// TestHelperFailingOnPurpose is not a test: TestCleanupLeavesNoProcess
// runs it in a subprocess, where it starts servers and then fails or
// panics. It skips unless helperModeEnv is set.
func TestHelperFailingOnPurpose(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		t.Skip("helper of TestCleanupLeavesNoProcess")
	}
	k := KES(t, KESOptions{})
	m := MinIO(t, MinIOOptions{})
	st, err := supervisor.ReadStatus(m.SupervisorDir)
	must(t, "minio status", err)
	rec := helperRecord{PIDs: []int{k.proc.cmd.Process.Pid, m.proc.cmd.Process.Pid, st.ChildPID},
		Dirs: []string{k.Dir, m.Dir}}
	b, _ := json.Marshal(rec)
	must(t, "record", os.WriteFile(os.Getenv(helperOutEnv), b, 0o644))
	if mode == "panic" {
		panic("failing on purpose, with a panic")
	}
	t.Fatal("failing on purpose")
}

func TestCleanupLeavesNoProcess(t *testing.T) {
	Bin(t, "kes")
	Bin(t, "minio")
	for _, mode := range []string{"fail", "panic"} {
		t.Run(mode, func(t *testing.T) {
			rec, out := runFailingHelper(t, mode)
			for _, pid := range rec.PIDs {
				waitGone(t, pid, out)
			}
			for _, dir := range rec.Dirs {
				if pids := processesMentioning(dir); len(pids) > 0 {
					t.Errorf("processes %v still run with %s in their command line", pids, dir)
				}
			}
		})
	}
}

// runFailingHelper runs TestHelperFailingOnPurpose in a subprocess and
// returns what it recorded, and its output.
func runFailingHelper(t *testing.T, mode string) (helperRecord, string) {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "record.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFailingOnPurpose$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperOutEnv+"="+outFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil || !strings.Contains(out.String(), "failing on purpose") {
		t.Fatalf("helper test: err %v, want a failure; output:\n%s", err, out.String())
	}
	var rec helperRecord
	b, err := os.ReadFile(outFile)
	must(t, "helper record", err)
	must(t, "helper record", json.Unmarshal(b, &rec))
	if len(rec.PIDs) != 3 || len(rec.Dirs) != 2 {
		t.Fatalf("helper recorded %+v", rec)
	}
	return rec, out.String()
}

// waitGone waits a little for pid to die: a killed process stays a
// zombie until init reaps it.
func waitGone(t *testing.T, pid int, helperOutput string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for supervisor.ProcessAlive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("pid %d still alive after the failed test; its output:\n%s", pid, helperOutput)
			return
		}
		time.Sleep(pollEvery)
	}
}

// processesMentioning returns the pids whose command line contains s.
func processesMentioning(s string) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		var pid int
		if err := json.Unmarshal([]byte(filepath.Base(filepath.Dir(p))), &pid); err == nil && supervisor.ProcessAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
