package awskms_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/providers/awskms"
)

// emptyChain leaves the SDK's default chain nothing to find: no
// credentials or region in the environment, no shared files, no instance
// metadata service (so nothing is asked of the network).
func emptyChain(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// With no credentials and no region anywhere, opening the store fails
// before any client exists (so no request can be sent), naming both and
// where they can come from; a region alone still lacks credentials.
func TestOpenWithoutCredentialsOrRegion(t *testing.T) {
	emptyChain(t)
	ctx := context.Background()
	_, err := awskms.New(ctx, awskms.Config{Name: "kms.aws"})
	if !errors.Is(err, awskms.ErrNoCredentials) || !errors.Is(err, awskms.ErrNoRegion) {
		t.Fatalf("open with nothing = %v, want ErrNoRegion and ErrNoCredentials", err)
	}
	for _, want := range []string{"kms.aws (aws kms): no AWS region: set region in the kms block, or AWS_REGION",
		"no AWS credentials: set access_key and secret_key in the kms block, or AWS_ACCESS_KEY_ID", "EC2 IMDS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = (&awskms.Config{Name: "kms.aws", Region: testRegion}).Open(ctx)
	if !errors.Is(err, awskms.ErrNoCredentials) || errors.Is(err, awskms.ErrNoRegion) {
		t.Errorf("open with a region only = %v, want ErrNoCredentials alone", err)
	}
	_, err = awskms.New(ctx, awskms.Config{Name: "kms.aws", AccessKey: testAccessKey, SecretKey: testSecretKey})
	if !errors.Is(err, awskms.ErrNoRegion) || errors.Is(err, awskms.ErrNoCredentials) {
		t.Errorf("open with credentials only = %v, want ErrNoRegion alone", err)
	}
}

// A block that names no region and no credentials takes both from the
// SDK's default chain (here the environment) and works.
func TestRegionAndCredentialsFromDefaultChain(t *testing.T) {
	e := newEmuEnv(t, "")
	emptyChain(t)
	t.Setenv("AWS_REGION", testRegion)
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	openDecoded(t, `kms "aws" {
  type       = "aws_kms"
  region     = ""
  endpoint   = "`+e.url+`"
  access_key = ""
  secret_key = ""
}`)
}
