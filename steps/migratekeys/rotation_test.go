package migratekeys_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/plan"
)

// rotatingKey creates an AWS-origin key under alias/<name> with automatic
// rotation every 180 days, as an operator's existing key would be.
func rotatingKey(t *testing.T, url, alias string) (*kms.Client, string) {
	c := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCUTOVERTEST", "cutover-test-secret-key", "")})
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyMetadata.KeyId, RotationPeriodInDays: aws.Int32(180)}); err != nil {
		t.Fatal(err)
	}
	return c, aws.ToString(k.KeyMetadata.KeyId)
}

// TestRotationFrozenDuringMigration: automatic rotation of the AWS KMS keys
// in the pattern is turned off while keys are copied and restored with its
// period afterwards — after a success, and by the compensation after a
// failure.
func TestRotationFrozenDuringMigration(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("failing=%v", fail), func(t *testing.T) {
			emu, err := awsemu.New(awsemu.Config{Region: "eu-west-1", AccountID: "111122223333",
				Credentials: map[string]string{"AKIDCUTOVERTEST": "cutover-test-secret-key"}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(emu)
			defer srv.Close()
			c, keyID := rotatingKey(t, srv.URL, "alias/cut/legacy")
			if fail {
				emu.FailNext("ImportKeyMaterial", "IncorrectKeyMaterialException")
			}
			blocks := fmt.Sprintf(`kms "src" {
  type = "fs"
  path = %q
}
kms "dst" {
  type         = "aws_kms"
  region       = "eu-west-1"
  endpoint     = %q
  access_key   = "AKIDCUTOVERTEST"
  secret_key   = "cutover-test-secret-key"
  alias_prefix = "cut/"
}
`, fillFS(t, 5), srv.URL)
			step := `
step "migrate_keys" "copy" {
  from = kms.src
  to   = kms.dst
}
`
			h := plantest.Load(t, t.TempDir(), header+blocks+step, plan.Options{})
			r := h.Run(context.Background())
			want := engine.Completed
			if fail {
				want = engine.RolledBack
			}
			if r.Outcome != want {
				t.Fatalf("outcome %s (%v), want %s", r.Outcome, r.Err, want)
			}
			if n := emu.RequestCount("DisableKeyRotation"); n != 1 {
				t.Fatalf("DisableKeyRotation called %d times, want 1 (the legacy key, during the copy)", n)
			}
			st, err := c.GetKeyRotationStatus(context.Background(), &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
			if err != nil {
				t.Fatal(err)
			}
			if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 180 {
				t.Fatalf("after the run rotation is %v every %d days, want on every 180", st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays))
			}
		})
	}
}
