package migratekeys_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
)

// TestMigrationIntoOlderKES: KES v0.23.0 imports the keys but cannot
// decrypt the KES v0.24.0 ciphertext cutover verifies them with. The step
// fails saying the target holds the same key bytes and cannot read the
// format (not "a DIFFERENT key"), and delete_created_on_rollback deletes
// the key it created although the key failed verification: the target is
// left as it was, and a second run fails the same way, not with "already
// exists".
func TestMigrationIntoOlderKES(t *testing.T) {
	ctx := context.Background()
	blocks, _, k, _, vars := kesVersionTarget(t, 3, testenv.KESv023)
	src := header + blocks + migrateStep("delete_created_on_rollback = true\n  concurrency = 1")
	for run := 1; run <= 2; run++ {
		h := plantest.Load(t, t.TempDir(), src, plan.Options{Vars: vars})
		r := h.Run(ctx)
		msg := ""
		if r.Err != nil {
			msg = r.Err.Error()
		}
		if r.Outcome != engine.RolledBack || !strings.Contains(msg, "holds the same key bytes but cannot decrypt") ||
			!strings.Contains(msg, "v0.24.0") || strings.Contains(msg, "DIFFERENT") {
			t.Fatalf("run %d: outcome %s (%v), want rolled back with the format message", run, r.Outcome, r.Err)
		}
		t.Logf("run %d: %v", run, r.Err)
		if got := cleanupSummary(r); !strings.Contains(got, "deleted 1 keys") {
			t.Errorf("run %d: migrate_keys's cleanup: %q, want the created key deleted", run, got)
		}
		left, err := os.ReadDir(k.KeystoreDir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Fatalf("run %d: KES's keystore holds %d entries after the rollback (%s), want none", run, len(left), left[0].Name())
		}
	}
}

// cleanupSummary is the summary of migrate_keys.copy's rollback cleanup.
func cleanupSummary(r engine.Result) string {
	for _, a := range r.State.Rollback.Actions {
		if a.Step == "migrate_keys.copy" && a.Summary != "" {
			return a.Summary
		}
	}
	return ""
}
