package migratekeys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/keskeytest"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers/fs"
	"github.com/cutover/cutover/providers/kes"
)

// kesTarget starts a KES (fs keystore) and returns plan blocks for an fs
// source with n keys and that KES as the target, with the vars to run them.
func kesTarget(t *testing.T, n int) (blocks, srcDir string, k *testenv.KESServer, dst *kes.Store, vars []string) {
	return kesVersionTarget(t, n, testenv.KESv024)
}

// kesVersionTarget is kesTarget with a chosen KES version.
func kesVersionTarget(t *testing.T, n int, version string) (blocks, srcDir string, k *testenv.KESServer, dst *kes.Store, vars []string) {
	k = testenv.KES(t, testenv.KESOptions{KeystoreDir: t.TempDir(), Version: version})
	srcDir = fillFS(t, n)
	blocks = fmt.Sprintf(`kms "src" {
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
`, srcDir, k.Endpoint, k.CAFile)
	dst, err := kes.New(kes.Config{Name: "kms.dst", Endpoint: k.Endpoint, APIKey: k.APIKey, CAFile: k.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	return blocks, srcDir, k, dst, []string{"kes_api_key=" + k.APIKey}
}

// TestOnConflictVerifyWithKES: KES never reveals material, yet
// on_conflict = "verify" skips a key KES already holds when it is the
// source's key, and refuses the run at preflight, leaving KES's key
// untouched, when KES holds a different key under the name.
func TestOnConflictVerifyWithKES(t *testing.T) {
	for _, same := range []bool{true, false} {
		t.Run(fmt.Sprintf("same=%v", same), func(t *testing.T) {
			ctx := context.Background()
			blocks, srcDir, k, dst, vars := kesTarget(t, 6)
			src, err := fs.New("kms.src", srcDir)
			if err != nil {
				t.Fatal(err)
			}
			existing, err := src.Get(ctx, "k-0003")
			if err != nil {
				t.Fatal(err)
			}
			if !same {
				existing = keystoretest.NewKey(t)
			}
			if err := dst.Create(ctx, "k-0003", existing); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(k.KeystoreDir, "k-0003")
			before, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			h := plantest.Load(t, t.TempDir(), header+blocks+migrateStep(`on_conflict = "verify"`), plan.Options{Vars: vars})
			r := h.Run(ctx)
			after, _ := os.ReadFile(file)
			if !bytes.Equal(after, before) {
				t.Fatal("KES's existing key k-0003 was touched")
			}
			if !same {
				if r.Outcome != engine.Failed || !errors.Is(r.Err, engine.ErrPreflight) || !strings.Contains(r.Err.Error(), "DIFFERENT") {
					t.Fatalf("outcome %s (%v), want refused at preflight on a DIFFERENT key", r.Outcome, r.Err)
				}
				t.Logf("refused: %v", r.Err)
				keskeytest.ProveSameKey(t, k, "k-0003", existing)
				return
			}
			if r.Outcome != engine.Completed {
				t.Fatalf("outcome %s (%v), want completed", r.Outcome, r.Err)
			}
			for key, want := range map[string]string{"count": "6", "created": "5", "skipped": "1", "replaced": "0"} {
				if got := plantest.Output(r.State, "migrate_keys.copy", key); got != want {
					t.Errorf("migrate_keys %s = %s, want %s", key, got, want)
				}
			}
			if got := plantest.Output(r.State, "verify_keys.check", "count"); got != "6" {
				t.Errorf("verify_keys count = %s, want 6", got)
			}
		})
	}
}

// TestVerifyKeysCatchesDifferentKeyInKES: a KES holding a different key
// under a migrated name fails verify_keys, where a round trip alone would
// pass.
func TestVerifyKeysCatchesDifferentKeyInKES(t *testing.T) {
	ctx := context.Background()
	blocks, _, k, dst, vars := kesTarget(t, 4)
	h := plantest.Load(t, t.TempDir(), header+blocks+migrateStep(""), plan.Options{Vars: vars})
	if r := h.Run(ctx); r.Outcome != engine.Completed {
		t.Fatalf("first run: outcome %s (%v)", r.Outcome, r.Err)
	}
	// Someone replaces k-0001 in KES behind cutover's back.
	if err := dst.Delete(ctx, "k-0001"); err != nil {
		t.Fatal(err)
	}
	if err := k.ImportKey("k-0001", keystoretest.NewKey(t).Material); err != nil {
		t.Fatal(err)
	}
	verifyOnly := fmt.Sprintf("%s%s\nstep \"verify_keys\" \"check\" {\n  from = kms.src\n  to   = kms.dst\n}\n", header, blocks)
	r := plantest.Load(t, t.TempDir(), verifyOnly, plan.Options{Vars: vars}).Run(ctx)
	if r.Outcome == engine.Completed || r.Err == nil || !strings.Contains(r.Err.Error(), "DIFFERENT") {
		t.Fatalf("verify_keys with a DIFFERENT key in KES: outcome %s (%v), want a DIFFERENT key failure", r.Outcome, r.Err)
	}
	t.Logf("refused: %v", r.Err)
}
