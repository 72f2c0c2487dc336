package migratekeys_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/keyops"
)

// buildCutover builds the real binary, for tests that must kill it.
func buildCutover(t *testing.T) string {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cutover")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// killedRun checks that the run of the plan in dir ended with err by the
// fault point's SIGKILL, removes the killed process's lock (as `cutover
// unlock` would) and returns the plan's state directory.
func killedRun(t *testing.T, dir string, err error) string {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("the run was not killed at the fault point: %v", err)
	}
	stateDir := filepath.Join(dir, ".cutover", "keys")
	os.Remove(filepath.Join(stateDir, "lock.json"))
	return stateDir
}

// journal reads the step's journal: final status per key, and the keys
// started but never finished.
func journal(t *testing.T, stateDir string) (final map[string][]string, inflight map[string]bool) {
	f, err := os.Open(filepath.Join(stateDir, "journals", "migrate_keys.copy.keys.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	final, inflight = map[string][]string{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ K, S string }
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.S == "start" {
			inflight[r.K] = true
			continue
		}
		final[r.K] = append(final[r.K], r.S)
		delete(inflight, r.K)
	}
	return final, inflight
}

// TestResumeAfterSIGKILL kills cutover in the middle of a 10,000-key
// migration into Vault KV v2, resumes it, and checks that no key was lost,
// none was written twice (every key is at version 1), and the keys that
// were in flight were re-checked and journaled.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-key migration")
	}
	v := sharedVault(t)
	bin := buildCutover(t)
	dir := t.TempDir()
	blocks := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", fillFS(t, manyKeys)) + vaultBlock("dst", v, "kv2", "v2", "sigkill")
	if err := os.WriteFile(filepath.Join(dir, "plan.hcl"), []byte(header+blocks+migrateStep("")), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env ...string) error {
		cmd := exec.Command(bin, "run", "plan.hcl")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append(env, "CUTOVER_VAR_vault_token="+v.Token)...)
		out, err := cmd.CombinedOutput()
		t.Logf("cutover run %v:\n%s", env, out)
		return err
	}
	stateDir := killedRun(t, dir, run("CUTOVER_FAULTPOINT=after-key:migrate_keys.copy:5000"))
	_, inflight := journal(t, stateDir)
	if len(inflight) == 0 {
		t.Fatal("the journal shows no key in flight at the crash")
	}
	if err := run(); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	final, left := journal(t, stateDir)
	if len(left) != 0 || len(final) != manyKeys {
		t.Fatalf("after resume: %d keys journaled done, %d still in flight; want %d and 0", len(final), len(left), manyKeys)
	}
	for k := range inflight {
		if got := final[k]; len(got) != 1 || got[0] != "created" {
			t.Errorf("in-flight key %s: journal %v, want one created record after the re-check", k, got)
		}
	}
	checkVersionOne(t, v, "kv2", "sigkill")
}

// checkVersionOne reads every key's KV v2 metadata: a key written twice
// would be at version 2.
func checkVersionOne(t *testing.T, v *testenv.VaultServer, mount, prefix string) {
	c := v.Client(t)
	var count atomic.Int64
	err := keyops.ForEach(context.Background(), seq(manyKeys), "*", 16, true, func(ctx context.Context, name string) error {
		s, err := c.Logical().ReadWithContext(ctx, fmt.Sprintf("%s/metadata/%s/%s", mount, prefix, name))
		if err != nil || s == nil {
			return fmt.Errorf("metadata: %v", err)
		}
		if cv := fmt.Sprint(s.Data["current_version"]); cv != "1" {
			return fmt.Errorf("current_version %s: written more than once", cv)
		}
		count.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count.Load() != manyKeys {
		t.Fatalf("%d keys at version 1, want %d", count.Load(), manyKeys)
	}
}

// TestRollbackAfterSIGKILLKeepsInFlightKeys kills cutover in the middle
// of a migration with delete_created_on_rollback, then rolls back: every
// key journaled as created is deleted at the target; the keys journaled as
// started and never finished are left in place (whose they are cannot be
// told) and the rollback says so.
func TestRollbackAfterSIGKILLKeepsInFlightKeys(t *testing.T) {
	const n = 1000
	bin := buildCutover(t)
	dir := t.TempDir()
	blocks, _, dst := fsPair(t, n)
	src := header + blocks + migrateStep("delete_created_on_rollback = true")
	if err := os.WriteFile(filepath.Join(dir, "plan.hcl"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cutover := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		t.Logf("cutover %v %v:\n%s", env, args, out)
		return string(out), err
	}
	_, err := cutover([]string{"CUTOVER_FAULTPOINT=after-key:migrate_keys.copy:300"}, "run", "plan.hcl")
	stateDir := killedRun(t, dir, err)
	created, inflight := journal(t, stateDir)
	if len(created) == 0 || len(inflight) == 0 || len(created)+len(inflight) < 300 {
		t.Fatalf("journal at the crash: %d keys done, %d in flight; want both, 300 at least together", len(created), len(inflight))
	}
	out, err := cutover(nil, "rollback", "--yes", "plan.hcl")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	left, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range left {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a temporary file the kill left: no key (see providers/fs)
		}
		names = append(names, e.Name())
		if !inflight[e.Name()] {
			t.Errorf("the target still holds %s, which was not in flight at the crash", e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no in-flight key was at the target: the test proves nothing")
	}
	want := "(this run's, or there before: check them): " + strings.Join(names[:min(len(names), 20)], ", ")
	if len(names) > 20 {
		want += fmt.Sprintf(" and %d more", len(names)-20)
	}
	if !strings.Contains(out, want) {
		t.Errorf("rollback output does not name the keys left in place: want %q", want)
	}
}
