package migratekeys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/fs"
	"github.com/cutover/cutover/providers/keyops"
)

// manyKeys is the size of the acceptance migrations.
const manyKeys = 10_000

var (
	vaultOnce sync.Once
	vaultSrv  *testenv.VaultServer
)

// sharedVault starts one Vault for the package's tests (prefixes isolate them).
func sharedVault(t testing.TB) *testenv.VaultServer {
	testenv.Bin(t, "vault")
	vaultOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cutover-vault-")
		if err != nil {
			t.Fatal(err)
		}
		vaultSrv, err = testenv.StartVault(dir)
		if err != nil {
			t.Fatal(err)
		}
	})
	if vaultSrv == nil {
		t.Fatal("vault did not start")
	}
	return vaultSrv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vaultSrv != nil {
		vaultSrv.Stop()
	}
	os.Exit(code)
}

// fillFS creates n random keys in a new fs keystore directory.
func fillFS(t testing.TB, n int) string {
	dir := t.TempDir()
	s, err := fs.New("kms.src", dir)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, n)
	return dir
}

func fill(t testing.TB, s providers.KeyStore, n int) {
	t.Helper()
	err := keyops.ForEach(context.Background(), seq(n), "*", 16, false, func(ctx context.Context, name string) error {
		return s.Create(ctx, name, keystoretest.NewKey(t))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func vaultBlock(name string, v *testenv.VaultServer, engine, version, prefix string) string {
	return fmt.Sprintf(`kms %q {
  type     = "vault"
  endpoint = %q
  engine   = %q
  version  = %q
  prefix   = %q
  token    = var.vault_token
}
`, name, v.Addr, engine, version, prefix)
}

const header = `
cutover "keys" {}
variable "vault_token" {
  sensitive = true
  default   = ""
}
`

func migrateStep(extra string) string {
	return fmt.Sprintf(`
step "migrate_keys" "copy" {
  from = kms.src
  to   = kms.dst
  %s
}
step "verify_keys" "check" {
  from = kms.src
  to   = kms.dst
}
`, extra)
}

// runMigration runs src -> dst with verification and checks every key made it.
func runMigration(t *testing.T, blocks string, vars []string, n int) {
	h := plantest.Load(t, t.TempDir(), header+blocks+migrateStep(""), plan.Options{Vars: vars})
	st := h.MustComplete(context.Background())
	if got := plantest.Output(st, "migrate_keys.copy", "count"); got != fmt.Sprint(n) {
		t.Fatalf("migrate_keys count = %s, want %d", got, n)
	}
	if got := plantest.Output(st, "migrate_keys.copy", "created"); got != fmt.Sprint(n) {
		t.Fatalf("migrate_keys created = %s, want %d", got, n)
	}
	if got := plantest.Output(st, "verify_keys.check", "count"); got != fmt.Sprint(n) {
		t.Fatalf("verify_keys count = %s, want %d", got, n)
	}
}

func TestMigrateFSToVaultV2ThenV1(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-key migration")
	}
	v := sharedVault(t)
	srcDir := fillFS(t, manyKeys)
	vars := []string{"vault_token=" + v.Token}
	fsSrc := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", srcDir)
	runMigration(t, fsSrc+vaultBlock("dst", v, "kv2", "v2", "fs-to-v2"), vars, manyKeys)
	v2src := vaultBlock("src", v, "kv2", "v2", "fs-to-v2")
	runMigration(t, v2src+vaultBlock("dst", v, "kv1", "v1", "v2-to-v1"), vars, manyKeys)
}

func TestMigrateVaultToAWSSecretsManager(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-key migration")
	}
	v := sharedVault(t)
	emu, err := awsemu.New(awsemu.Config{Region: "eu-west-1", AccountID: "111122223333",
		Credentials: map[string]string{"AKIDCUTOVERTEST": "cutover-test-secret-key"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	fsSrc := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", fillFS(t, manyKeys))
	vars := []string{"vault_token=" + v.Token}
	runMigration(t, fsSrc+vaultBlock("dst", v, "kv2", "v2", "to-aws"), vars, manyKeys)
	aws := fmt.Sprintf(`kms "dst" {
  type       = "aws_secretsmanager"
  region     = "eu-west-1"
  endpoint   = %q
  access_key = "AKIDCUTOVERTEST"
  secret_key = "cutover-test-secret-key"
}
`, srv.URL)
	runMigration(t, vaultBlock("src", v, "kv2", "v2", "to-aws")+aws, vars, manyKeys)
}

// fsPair returns plan blocks for two fs stores and their directories.
func fsPair(t testing.TB, n int) (blocks, src, dst string) {
	src, dst = fillFS(t, n), t.TempDir()
	blocks = fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\nkms \"dst\" {\n  type = \"fs\"\n  path = %q\n}\n", src, dst)
	return blocks, src, dst
}

func copyFile(t *testing.T, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOnConflict(t *testing.T) {
	for _, tc := range []struct {
		policy   string
		same     bool
		outcome  engine.Outcome
		skipped  string
		replaced string
	}{
		{"verify", true, engine.Completed, "1", "0"},
		{"verify", false, engine.Failed, "", ""}, // refused at preflight
		{"fail", true, engine.Failed, "", ""},
		{"fail", false, engine.Failed, "", ""},
		{"overwrite", false, engine.Completed, "0", "1"},
	} {
		t.Run(fmt.Sprintf("%s/same=%v", tc.policy, tc.same), func(t *testing.T) {
			blocks, src, dst := fsPair(t, 20)
			existing := filepath.Join(dst, "k-0007")
			if tc.same {
				copyFile(t, filepath.Join(src, "k-0007"), existing)
			} else {
				other, _ := fs.New("other", dst)
				fill1(t, other, "k-0007")
			}
			before, _ := os.ReadFile(existing)
			step := fmt.Sprintf(`on_conflict = %q`, tc.policy)
			h := plantest.Load(t, t.TempDir(), header+blocks+migrateStep(step), plan.Options{})
			r := h.Run(context.Background())
			if r.Outcome != tc.outcome {
				t.Fatalf("outcome %s (%v), want %s", r.Outcome, r.Err, tc.outcome)
			}
			if tc.outcome == engine.Failed && !errors.Is(r.Err, engine.ErrPreflight) {
				t.Fatalf("failed with %v, want refused at preflight", r.Err)
			}
			after, _ := os.ReadFile(existing)
			if tc.policy != "overwrite" && string(after) != string(before) {
				t.Fatal("the existing key at the target was touched")
			}
			if tc.outcome == engine.Completed {
				if got := plantest.Output(r.State, "migrate_keys.copy", "skipped"); got != tc.skipped {
					t.Errorf("skipped = %s, want %s", got, tc.skipped)
				}
				if got := plantest.Output(r.State, "migrate_keys.copy", "replaced"); got != tc.replaced {
					t.Errorf("replaced = %s, want %s", got, tc.replaced)
				}
			}
		})
	}
}

func fill1(t *testing.T, s providers.KeyStore, name string) {
	if err := s.Create(context.Background(), name, keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
}

// TestOverwriteRefusedWithoutAtomicReplace: Vault cannot replace a key so
// that KES sees it, so overwrite is refused before anything is copied.
func TestOverwriteRefusedWithoutAtomicReplace(t *testing.T) {
	v := sharedVault(t)
	blocks := fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", fillFS(t, 3)) + vaultBlock("dst", v, "kv2", "v2", "refuse")
	h := plantest.Load(t, t.TempDir(), header+blocks+migrateStep(`on_conflict = "overwrite"`), plan.Options{Vars: []string{"vault_token=" + v.Token}})
	if _, err := h.DryRun(context.Background()); err == nil {
		t.Fatal("plan accepted overwrite into a store without atomic replace")
	}
	r := h.Run(context.Background())
	if r.Outcome != engine.Failed || !errors.Is(r.Err, engine.ErrPreflight) {
		t.Fatalf("outcome %s (%v), want refused at preflight", r.Outcome, r.Err)
	}
	dst, _ := plantest.OpenStore(t, h, "kms.dst")
	if n, _ := keyops.Count(context.Background(), dst, "*"); n != 0 {
		t.Fatalf("%d keys were copied before the refusal", n)
	}
}

// TestRollbackDeletesOnlyCreatedKeys: with delete_created_on_rollback the
// compensation deletes what this run created and nothing that was there.
func TestRollbackDeletesOnlyCreatedKeys(t *testing.T) {
	blocks, src, dst := fsPair(t, 30)
	copyFile(t, filepath.Join(src, "k-0003"), filepath.Join(dst, "k-0003"))
	step := "on_conflict = \"verify\"\n  delete_created_on_rollback = true"
	failing := `
step "exec" "boom" {
  command = ["false"]
}
`
	h := plantest.Load(t, t.TempDir(), header+blocks+migrateStep(step)+failing, plan.Options{})
	if r := h.Run(context.Background()); r.Outcome != engine.RolledBack {
		t.Fatalf("outcome %s (%v), want rolled back", r.Outcome, r.Err)
	}
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 || entries[0].Name() != "k-0003" {
		t.Fatalf("after rollback the target holds %d entries, want only the pre-existing k-0003", len(entries))
	}
}

// seq is a key store listing k-0000..k-(n-1), for filling stores.
func seq(n int) providers.KeyStore { return nameSeq(n) }

func TestMigrateFSToKES(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-key migration")
	}
	k := testenv.KES(t, testenv.KESOptions{KeystoreDir: t.TempDir()})
	blocks := fmt.Sprintf(`kms "src" {
  type = "fs"
  path = %q
}
kms "dst" {
  type     = "kes"
  endpoint = %q
  api_key  = var.kes_api_key
  ca_file  = %q
}
variable "kes_api_key" {
  sensitive = true
}
`, fillFS(t, manyKeys), k.Endpoint, k.CAFile)
	runMigration(t, blocks, []string{"kes_api_key=" + k.APIKey}, manyKeys)
	if n, err := os.ReadDir(k.KeystoreDir); err != nil || len(n) != manyKeys {
		t.Fatalf("KES's own keystore holds %d keys (err %v), want %d", len(n), err, manyKeys)
	}
}
