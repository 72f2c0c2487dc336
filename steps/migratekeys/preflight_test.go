package migratekeys_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/fs"
)

// drainMarker is a step before the migration standing for the downtime a
// run starts with: it creates the file drained. A run refused at preflight
// never creates it.
func drainMarker(dir string) string {
	return fmt.Sprintf(`
step "exec" "drain" {
  command = ["touch", %q]
}
`, filepath.Join(dir, "drained"))
}

// refusedBeforeDowntime runs h and checks it was refused at preflight with
// an error containing each of want, with nothing run.
func refusedBeforeDowntime(t *testing.T, h *plantest.Harness, dir string, want ...string) {
	t.Helper()
	if _, err := h.DryRun(context.Background()); err == nil {
		t.Fatal("cutover plan accepted a migration that will fail")
	}
	r := h.Run(context.Background())
	if r.Outcome != engine.Failed || !errors.Is(r.Err, engine.ErrPreflight) {
		t.Fatalf("outcome %s (%v), want refused at preflight", r.Outcome, r.Err)
	}
	for _, w := range want {
		if !strings.Contains(r.Err.Error(), w) {
			t.Errorf("refusal does not say %q: %v", w, r.Err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "drained")); err == nil {
		t.Fatal("the run drained before it was refused")
	}
}

// TestConflictRefusedBeforeDowntime: on_conflict = "fail" with keys of the
// same names at a Vault target is refused at preflight, naming the keys and
// what to do, before the drain; the keys at the target are untouched.
func TestConflictRefusedBeforeDowntime(t *testing.T) {
	ctx := context.Background()
	v := sharedVault(t)
	srcDir := fillFS(t, 12)
	blocks := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", srcDir) + vaultBlock("dst", v, "kv2", "v2", "conflict-fail")
	vars := []string{"vault_token=" + v.Token}
	dir := t.TempDir()
	h := plantest.Load(t, dir, header+blocks+drainMarker(dir)+migrateStep(`on_conflict = "fail"`), plan.Options{Vars: vars})
	dst, err := plantest.OpenStore(t, h, "kms.dst")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := fs.New("kms.src", srcDir)
	for _, name := range []string{"k-0002", "k-0005"} {
		k, _ := src.Get(ctx, name) // the same key: "fail" refuses it all the same
		if err := dst.Create(ctx, name, k); err != nil {
			t.Fatal(err)
		}
	}
	refusedBeforeDowntime(t, h, dir, `k-0002, k-0005: already at the target, and on_conflict = "fail" stops`, `on_conflict = "verify"`)
	names := map[string]bool{}
	for name, err := range dst.List(ctx, "*") {
		if err != nil {
			t.Fatal(err)
		}
		names[name] = true
	}
	if len(names) != 2 {
		t.Fatalf("the target holds %v after the refusal, want only the two keys it had", names)
	}

	// with verify, the identical keys are skipped and the run completes
	dir2 := t.TempDir()
	h = plantest.Load(t, dir2, header+blocks+drainMarker(dir2)+migrateStep(`on_conflict = "verify"`), plan.Options{Vars: vars})
	st := h.MustComplete(ctx)
	if got := plantest.Output(st, "migrate_keys.copy", "skipped"); got != "2" {
		t.Errorf("skipped = %s, want 2", got)
	}
}

// TestVerifyIntoDifferentVaultKeyRefused: under on_conflict = "verify" a
// Vault target holding another key under a source name is refused at
// preflight.
func TestVerifyIntoDifferentVaultKeyRefused(t *testing.T) {
	ctx := context.Background()
	v := sharedVault(t)
	blocks := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", fillFS(t, 4)) + vaultBlock("dst", v, "kv2", "v2", "conflict-verify")
	dir := t.TempDir()
	h := plantest.Load(t, dir, header+blocks+drainMarker(dir)+migrateStep(`on_conflict = "verify"`), plan.Options{Vars: []string{"vault_token=" + v.Token}})
	dst, err := plantest.OpenStore(t, h, "kms.dst")
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Create(ctx, "k-0001", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	refusedBeforeDowntime(t, h, dir, "k-0001: at the target with DIFFERENT material")
}

// awsTarget serves an AWS KMS emulator and returns its kms block.
func awsTarget(t *testing.T) string {
	emu, err := awsemu.New(awsemu.Config{Region: "eu-west-1", AccountID: "111122223333",
		Credentials: map[string]string{"AKIDCUTOVERTEST": "cutover-test-secret-key"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return fmt.Sprintf(`kms "dst" {
  type       = "aws_kms"
  region     = "eu-west-1"
  endpoint   = %q
  access_key = "AKIDCUTOVERTEST"
  secret_key = "cutover-test-secret-key"
}
`, srv.URL)
}

// TestVerifyIntoSealedStoreRefused: AWS KMS can neither reveal nor compare
// key material, so on_conflict = "verify" into it is refused at preflight.
func TestVerifyIntoSealedStoreRefused(t *testing.T) {
	blocks := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", fillFS(t, 2)) + awsTarget(t)
	dir := t.TempDir()
	h := plantest.Load(t, dir, header+blocks+drainMarker(dir)+migrateStep(`on_conflict = "verify"`), plan.Options{})
	refusedBeforeDowntime(t, h, dir, "can neither reveal nor compare key material")
}

// TestAlgorithmTargetCannotHoldRefused: AWS KMS imports AES-256 keys only;
// a ChaCha20 key in the source is refused at preflight, naming it.
func TestAlgorithmTargetCannotHoldRefused(t *testing.T) {
	srcDir := fillFS(t, 3)
	src, err := fs.New("kms.src", srcDir)
	if err != nil {
		t.Fatal(err)
	}
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	if err := src.Create(context.Background(), "k-chacha", providers.Key{Material: material, Algorithm: "ChaCha20"}); err != nil {
		t.Fatal(err)
	}
	blocks := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", srcDir) + awsTarget(t)
	dir := t.TempDir()
	h := plantest.Load(t, dir, header+blocks+drainMarker(dir)+migrateStep(""), plan.Options{})
	refusedBeforeDowntime(t, h, dir, "k-chacha: an algorithm the target cannot hold: ChaCha20")
}
