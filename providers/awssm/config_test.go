package awssm

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
)

// decodeSnippet decodes the first kms block of src as the plan loader does.
func decodeSnippet(t *testing.T, src string, vars map[string]cty.Value) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	return hcltest.Decode(t, providers.KindKMS, src, vars, false)
}

func TestDecode(t *testing.T) {
	obj, diags, secrets := decodeSnippet(t, `kms "aws" {
  type          = "aws_secretsmanager"
  region        = "eu-west-1"
  endpoint      = "http://127.0.0.1:4566"
  access_key    = "AKIAEXAMPLE"
  secret_key    = "plain-secret-key-value"
  session_token = "session-token-value"
  kms_key       = "alias/kes"
}`, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*Config)
	want := Config{Name: "kms.aws", Region: "eu-west-1", Endpoint: "http://127.0.0.1:4566", AccessKey: "AKIAEXAMPLE",
		SecretKey: "plain-secret-key-value", SessionToken: "session-token-value", KMSKey: "alias/kes"}
	if *c != want {
		t.Errorf("decoded %+v", *c)
	}
	d := c.Describe()
	if strings.Contains(d, "plain-secret") || strings.Contains(d, "session-token") {
		t.Errorf("Describe shows a secret: %q", d)
	}
	if got := secrets.Redact("plain-secret-key-value session-token-value"); strings.Contains(got, "value") {
		t.Errorf("credentials not recorded as secrets: %q", got)
	}
	if _, ok := providers.Lookup(providers.KindKMS, Type); !ok {
		t.Error("aws_secretsmanager backend not registered")
	}
	if _, err := c.Open(context.Background()); err != nil {
		t.Errorf("Open: %v", err)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	head := "kms \"x\" {\n  type = \"aws_secretsmanager\"\n"
	cases := []struct {
		body, summary string
		line          int
	}{
		{"  kms_key = \"k\"\n", "Missing required argument", 1},
		{"  region = \"\"\n", "Empty region", 3},
		{"  region = \"r\"\n  endpoint = \"localhost:4566\"\n", "Invalid endpoint", 4},
		{"  region = \"r\"\n  access_key = \"a\"\n", "Incomplete credentials", 4},
		{"  region = \"r\"\n  secret_key = \"s\"\n", "Incomplete credentials", 4},
		{"  region = \"r\"\n  session_token = \"s\"\n", "Incomplete credentials", 4},
		{"  region = \"r\"\n  kms_key_id = \"k\"\n", "Unsupported argument", 4},
	}
	for _, c := range cases {
		t.Run(c.summary, func(t *testing.T) {
			_, diags, _ := decodeSnippet(t, head+c.body+"}", nil)
			hcltest.WantDiag(t, diags, c.summary, c.line)
		})
	}
}

func TestDecodeSensitiveVariable(t *testing.T) {
	vars := map[string]cty.Value{"sk": cty.StringVal("marked-secret-key").Mark(hcldecode.SensitiveMark)}
	_, diags, secrets := decodeSnippet(t, "kms \"x\" {\n  type = \"aws_secretsmanager\"\n  region = \"r\"\n  access_key = \"a\"\n  secret_key = var.sk\n}", vars)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if secrets.Redact("marked-secret-key") != secret.Mask {
		t.Error("sensitive secret_key not recorded")
	}
}
