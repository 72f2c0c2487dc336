package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a supervisor (see TestMain),
// so Restart and Stop signal another process, as in production.
const helperEnv = "SUPERVISOR_TEST_HELPER_CONFIG"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelper(cfg))
	}
	os.Exit(m.Run())
}

// runHelper runs a supervisor from a JSON Config.
func runHelper(js string) int {
	var cfg Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startSupervisor starts a supervisor process for cfg and waits until
// it has written its first status. Cleanup kills whatever is left.
func startSupervisor(t *testing.T, cfg Config) *exec.Cmd {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if pid, err := ReadPID(filepath.Join(cfg.Dir, ChildPIDFile)); err == nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	waitFor(t, "first status", func() bool {
		st, err := ReadStatus(cfg.Dir)
		return err == nil && st.Generation >= 1 && fileExists(filepath.Join(cfg.Dir, PIDFile))
	})
	return cmd
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readLog returns D/log.
func readLog(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeEnv writes an env file.
func writeEnv(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustStatus reads D/status or fails.
func mustStatus(t *testing.T, dir string) Status {
	t.Helper()
	st, err := ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRestartRereadsEnvFileAndStopCleansUp(t *testing.T) {
	tmp := t.TempDir()
	dir, envFile := filepath.Join(tmp, "d"), filepath.Join(tmp, "env")
	writeEnv(t, envFile, "GREETING='hello 1'\n")
	startSupervisor(t, Config{Dir: dir, EnvFile: envFile, Grace: 5 * time.Second,
		Argv: []string{"sh", "-c", `echo "greeting=$GREETING home=$HOME"; exec sleep 60`}})
	waitFor(t, "first greeting", func() bool { return strings.Contains(readLog(t, dir), "greeting=hello 1 ") })
	first := mustStatus(t, dir).ChildPID

	writeEnv(t, envFile, "GREETING=\"hello 2\"\n")
	if err := Restart(dir, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st := mustStatus(t, dir)
	if st.State != Running || st.Generation != 2 || st.ChildPID == first {
		t.Fatalf("after restart: %+v (first child %d)", st, first)
	}
	waitFor(t, "second greeting", func() bool { return strings.Contains(readLog(t, dir), "greeting=hello 2 ") })
	if ProcessAlive(first) {
		t.Errorf("old child %d still alive after restart", first)
	}
	if !strings.Contains(readLog(t, dir), "home="+os.Getenv("HOME")) {
		t.Errorf("child did not get HOME from the base env:\n%s", readLog(t, dir))
	}

	if err := Stop(dir, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	assertStopped(t, dir, st.ChildPID)
}

// assertStopped checks that the supervisor in dir and child are gone.
func assertStopped(t *testing.T, dir string, child int) {
	t.Helper()
	if st := mustStatus(t, dir); st.State != Stopped {
		t.Errorf("state after stop = %s, want stopped", st)
	}
	for _, f := range []string{PIDFile, ChildPIDFile} {
		if fileExists(filepath.Join(dir, f)) {
			t.Errorf("%s still exists after stop", f)
		}
	}
	if ProcessAlive(child) {
		t.Errorf("child %d alive after stop", child)
	}
}

func TestChildExitIsRecordedAndRestartStartsItAgain(t *testing.T) {
	tmp := t.TempDir()
	dir, envFile := filepath.Join(tmp, "d"), filepath.Join(tmp, "env")
	writeEnv(t, envFile, "MODE=crash\n")
	startSupervisor(t, Config{Dir: dir, EnvFile: envFile,
		Argv: []string{"sh", "-c", `[ "$MODE" = crash ] && exit 7; exec sleep 60`}})
	waitFor(t, "exited state", func() bool { return mustStatus(t, dir).State == Exited })
	if st := mustStatus(t, dir); st.Exit != "exit status 7" {
		t.Errorf("exit = %q, want exit status 7", st.Exit)
	}

	err := Restart(dir, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("restart of a crashing child = %v, want an error with its exit status", err)
	}
	writeEnv(t, envFile, "MODE=run\n")
	if err := Restart(dir, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := mustStatus(t, dir); st.State != Running || st.Generation != 3 {
		t.Errorf("after fixed restart: %+v", st)
	}
}

func TestRestartReportsStartFailure(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "d")
	startSupervisor(t, Config{Dir: dir, EnvFile: filepath.Join(tmp, "missing.env"),
		Argv: []string{"sleep", "60"}})
	if st := mustStatus(t, dir); st.State != Failed || !strings.Contains(st.Error, "missing.env") {
		t.Errorf("status = %+v, want failed naming the env file", st)
	}
	err := Restart(dir, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "could not start") {
		t.Errorf("Restart = %v, want a start failure", err)
	}
}

func TestStopKillsChildThatIgnoresSIGTERM(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "d")
	startSupervisor(t, Config{Dir: dir, Grace: 300 * time.Millisecond,
		Argv: []string{"sh", "-c", `trap "" TERM; echo trapped; while :; do sleep 1; done`}})
	waitFor(t, "trap", func() bool { return strings.Contains(readLog(t, dir), "trapped") })
	child := mustStatus(t, dir).ChildPID
	start := time.Now()
	if err := Stop(dir, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	assertStopped(t, dir, child)
	if !strings.Contains(readLog(t, dir), "SIGKILL") {
		t.Errorf("log does not mention SIGKILL:\n%s", readLog(t, dir))
	}
	// Killed members may stay zombies for a moment until init reaps them.
	waitFor(t, "empty process group", func() bool { return syscall.Kill(-child, 0) != nil })
}

func TestChildDiesWithSupervisor(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "d")
	sup := startSupervisor(t, Config{Dir: dir, Argv: []string{"sleep", "60"}})
	child := mustStatus(t, dir).ChildPID
	_ = sup.Process.Kill() // SIGKILL the supervisor only, not its group
	waitFor(t, "child death", func() bool { return !ProcessAlive(child) })
}

func TestControlWithoutSupervisor(t *testing.T) {
	dir := t.TempDir()
	for name, err := range map[string]error{
		"restart": Restart(dir, time.Second),
		"stop":    Stop(dir, time.Second),
	} {
		if err == nil || !strings.Contains(err.Error(), "no supervisor running") {
			t.Errorf("%s = %v, want 'no supervisor running'", name, err)
		}
	}
	if err := writePID(filepath.Join(dir, PIDFile), 1<<22-1); err != nil {
		t.Fatal(err)
	}
	if err := Restart(dir, time.Second); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("restart with stale pid = %v, want 'stale'", err)
	}
}
