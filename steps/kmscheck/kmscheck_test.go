package kmscheck_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers/fs"
)

// TestAfterMigration: the service's default key is not on a fresh KES before
// the run; with `after`, the preflight accepts it because migrate_keys will
// copy it, the run proves it for real, and a mistyped name is refused before
// anything runs, naming the key.
func TestAfterMigration(t *testing.T) {
	k := testenv.KES(t, testenv.KESOptions{KeystoreDir: t.TempDir()})
	src := t.TempDir()
	store, err := fs.New("kms.local", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Create(context.Background(), "my-minio-key", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	planFor := func(key string) string {
		return fmt.Sprintf(`cutover "kms-check" {}
variable "api_key" {
  sensitive = true
}
kms "local" {
  type = "fs"
  path = %q
}
kms "kes" {
  type     = "kes"
  endpoint = %q
  api_key  = var.api_key
  ca_file  = %q
}
step "migrate_keys" "to_kes" {
  from = kms.local
  to   = kms.kes
}
step "kms_check" "default_key" {
  kms   = kms.kes
  key   = %q
  after = step.migrate_keys.to_kes
}
`, src, k.Endpoint, k.CAFile, key)
	}
	vars := plan.Options{Vars: []string{"api_key=" + k.APIKey}}
	bad := plantest.Load(t, t.TempDir(), planFor("my-minio-kee"), vars)
	res := bad.Run(context.Background())
	if res.Outcome != engine.Failed || !strings.Contains(fmt.Sprint(res.Err), "my-minio-kee") || !strings.Contains(fmt.Sprint(res.Err), "preflight") {
		t.Fatalf("a mistyped default key: %s (%v), want refused at preflight naming it", res.Outcome, res.Err)
	}
	good := plantest.Load(t, t.TempDir(), planFor("my-minio-key"), vars)
	plans, err := good.DryRun(context.Background())
	if err != nil {
		t.Fatalf("preflight of a key migrate_keys will copy: %v", err)
	}
	if got := plans[1].Actions[0].Summary; !strings.Contains(got, "migrate_keys.to_kes will copy it there") {
		t.Errorf("plan says %q", got)
	}
	st := good.MustComplete(context.Background())
	if !strings.Contains(st.Step("kms_check.default_key").Summary, "round trip OK") {
		t.Errorf("kms_check summary: %q", st.Step("kms_check.default_key").Summary)
	}
}
