package awskms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/awskms"
)

// decode decodes the first kms block of src as a plan load does.
func decode(t *testing.T, src string, validating bool) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	vars := map[string]cty.Value{
		"secret":  cty.StringVal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").Mark(hcldecode.SensitiveMark),
		"unknown": cty.UnknownVal(cty.String),
	}
	return hcltest.Decode(t, providers.KindKMS, src, vars, validating)
}

func TestDecode(t *testing.T) {
	obj, diags, set := decode(t, `kms "aws" {
  type          = "aws_kms"
  region        = "eu-west-3"
  endpoint      = "http://127.0.0.1:4566"
  access_key    = "AKIAEXAMPLE"
  secret_key    = var.secret
  session_token = "FwoGZXIvYXdzEXAMPLETOKEN"
  alias_prefix  = "cutover/"
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*awskms.Config)
	if c.Name != "kms.aws" || c.Region != "eu-west-3" || c.Endpoint != "http://127.0.0.1:4566" || c.AccessKey != "AKIAEXAMPLE" ||
		c.SecretKey != "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" || c.SessionToken != "FwoGZXIvYXdzEXAMPLETOKEN" || c.AliasPrefix != "cutover/" {
		t.Errorf("config = %+v", c)
	}
	if set.Redact(c.SecretKey+" "+c.SessionToken) != secret.Mask+" "+secret.Mask {
		t.Error("the secret key and session token are not recorded as secrets")
	}
	if d := c.Describe(); strings.Contains(d, "EXAMPLE") {
		t.Errorf("Describe() = %q shows a credential", d)
	}
}

// Empty values mean "not set": AWS itself (no endpoint), and the SDK's
// default chain for the region and credentials, so a plan can pass them
// through variables that default to "".
func TestDecodeEmptyMeansDefault(t *testing.T) {
	obj, diags, _ := decode(t, `kms "aws" {
  type          = "aws_kms"
  region        = ""
  endpoint      = ""
  access_key    = ""
  secret_key    = ""
  session_token = ""
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c := obj.(*awskms.Config); c.Region != "" || c.Endpoint != "" || c.AccessKey != "" || c.SecretKey != "" || c.Describe() != "aws kms (aliases alias/*)" {
		t.Errorf("config = %+v (%s)", c, c.Describe())
	}
	_, diags, _ = decode(t, "kms \"aws\" {\n  type = \"aws_kms\"\n  access_key = \"AKIA\"\n  secret_key = \"\"\n}", false)
	hcltest.WantDiag(t, diags, "Incomplete AWS credentials", 3)
}

func TestDecodeDiagnostics(t *testing.T) {
	cases := []struct {
		name, body, summary string
		line                int
	}{
		{"bad region", `region = "Europe"`, "Invalid AWS region", 3},
		{"bad endpoint", `endpoint = "kms.example.com"`, "Invalid KMS endpoint", 3},
		{"reserved prefix", `alias_prefix = "aws/"`, "Invalid alias prefix", 3},
		{"bad prefix", `alias_prefix = "a b"`, "Invalid alias prefix", 3},
		{"access key alone", `access_key = "AKIA"`, "Incomplete AWS credentials", 3},
		{"secret key alone", `secret_key = var.secret`, "Incomplete AWS credentials", 3},
		{"token alone", `session_token = "tok"`, "Incomplete AWS credentials", 3},
		{"unknown attribute", `profile = "prod"`, "Unsupported argument", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags, _ := decode(t, "kms \"aws\" {\n  type = \"aws_kms\"\n  "+c.body+"\n}", false)
			hcltest.WantDiag(t, diags, c.summary, c.line)
			if strings.Contains(diags.Error(), "wJalr") {
				t.Errorf("diagnostic leaks the secret key: %s", diags.Error())
			}
		})
	}
}

func TestDecodeUnknownUnderValidate(t *testing.T) {
	_, diags, _ := decode(t, `kms "aws" {
  type = "aws_kms"
  region = var.unknown
  endpoint = var.unknown
  alias_prefix = var.unknown
}`, true)
	if diags.HasErrors() {
		t.Fatalf("unknown values must not be checked under validate: %v", diags)
	}
}

// openDecoded decodes a kms block, opens the store and checks its status.
func openDecoded(t *testing.T, src string) providers.KeyStore {
	t.Helper()
	obj, diags, _ := decode(t, src, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, err := obj.(providers.KeyStoreConfig).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Status(context.Background()); err != nil {
		t.Fatalf("status: %v", err)
	}
	return s
}

// TestDecodedConfigOpens decodes a block naming the emulator and uses it.
func TestDecodedConfigOpens(t *testing.T) {
	e := newEmuEnv(t, "")
	s := openDecoded(t, `kms "aws" {
  type = "aws_kms"
  region = "`+testRegion+`"
  endpoint = "`+e.url+`"
  access_key = "`+testAccessKey+`"
  secret_key = "`+testSecretKey+`"
  alias_prefix = "plan/"
}`)
	if err := s.Create(context.Background(), "k", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RoundTrip(context.Background(), "alias/plan/k"); err != nil {
		t.Fatal(err)
	}
}
