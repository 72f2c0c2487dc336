package kmscheck_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers/fs"
)

// sourceWith returns an fs store's directory holding one key, name.
func sourceWith(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	store, err := fs.New("kms.local", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Create(context.Background(), name, keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAfterFollowsKESKeystore: the migration writes into the store KES
// keeps its keys in (keystore = kms.kes_keystore), not into KES itself; a
// check of KES with `after` counts it, at preflight, and the run proves
// the key through KES. The kes block names its keystore before the
// keystore's block is written, which the plan allows.
func TestAfterFollowsKESKeystore(t *testing.T) {
	keystore := t.TempDir()
	k := testenv.KES(t, testenv.KESOptions{KeystoreDir: keystore})
	src := sourceWith(t, "minio-default")
	h := plantest.Load(t, t.TempDir(), fmt.Sprintf(`cutover "follow" {}
variable "api_key" {
  sensitive = true
}
kms "kes" {
  type     = "kes"
  endpoint = %q
  api_key  = var.api_key
  ca_file  = %q
  keystore = kms.kes_keystore
}
kms "kes_keystore" {
  type = "fs"
  path = %q
}
kms "local" {
  type = "fs"
  path = %q
}
step "migrate_keys" "into_keystore" {
  from = kms.local
  to   = kms.kes_keystore
}
step "kms_check" "default_key" {
  kms   = kms.kes
  key   = "minio-default"
  after = step.migrate_keys.into_keystore
}
`, k.Endpoint, k.CAFile, keystore, src), plan.Options{Vars: []string{"api_key=" + k.APIKey}})
	plans, err := h.DryRun(context.Background())
	if err != nil {
		t.Fatalf("preflight of a key the migration writes into KES's keystore: %v", err)
	}
	if got := plans[1].Actions[0].Summary; !strings.Contains(got, "migrate_keys.into_keystore will copy it there") {
		t.Errorf("plan says %q", got)
	}
	st := h.MustComplete(context.Background())
	if got := st.Step("kms_check.default_key").Summary; !strings.Contains(got, "round trip OK") {
		t.Errorf("kms_check summary: %q", got)
	}
}

// TestAfterFollowsAWSAlias: a migration into AWS KMS makes a key's name an
// alias; a check of that alias (or the alias's ARN) with `after` counts
// the migration at preflight, and a check of an alias the migration will
// not create is still refused.
func TestAfterFollowsAWSAlias(t *testing.T) {
	emu, err := awsemu.New(awsemu.Config{Region: "eu-west-1", AccountID: "111122223333",
		Credentials: map[string]string{"AKIDCUTOVERTEST": "cutover-test-secret-key"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	src := sourceWith(t, "app-key")
	planFor := func(ref string) string {
		return fmt.Sprintf(`cutover "alias" {}
kms "local" {
  type = "fs"
  path = %q
}
kms "aws" {
  type         = "aws_kms"
  region       = "eu-west-1"
  endpoint     = %q
  access_key   = "AKIDCUTOVERTEST"
  secret_key   = "cutover-test-secret-key"
  alias_prefix = "cutover/"
}
step "migrate_keys" "to_aws" {
  from = kms.local
  to   = kms.aws
}
step "kms_check" "app_key" {
  kms   = kms.aws
  key   = %q
  after = step.migrate_keys.to_aws
}
`, src, srv.URL, ref)
	}
	for _, ref := range []string{"alias/cutover/app-key", "arn:aws:kms:eu-west-1:111122223333:alias/cutover/app-key"} {
		h := plantest.Load(t, t.TempDir(), planFor(ref), plan.Options{})
		if _, err := h.DryRun(context.Background()); err != nil {
			t.Fatalf("preflight of %s, which the migration creates: %v", ref, err)
		}
	}
	h := plantest.Load(t, t.TempDir(), planFor("alias/cutover/app-kee"), plan.Options{})
	if _, err := h.DryRun(context.Background()); err == nil {
		t.Fatal("preflight passed a check of an alias no step creates")
	}
	st := plantest.Load(t, t.TempDir(), planFor("alias/cutover/app-key"), plan.Options{}).MustComplete(context.Background())
	if got := st.Step("kms_check.app_key").Summary; !strings.Contains(got, "round trip OK") {
		t.Errorf("kms_check summary: %q", got)
	}
}
