package vault

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
)

// decodeSnippet decodes the first kms block of src as the plan loader
// does, with var.* from vars.
func decodeSnippet(t *testing.T, src string, vars map[string]cty.Value, validating bool) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	return hcltest.Decode(t, providers.KindKMS, src, vars, validating)
}

func TestDecodeToken(t *testing.T) {
	vars := map[string]cty.Value{"t": cty.StringVal("hvs.super-secret-token").Mark(hcldecode.SensitiveMark)}
	obj, diags, secrets := decodeSnippet(t, `kms "target" {
  type     = "vault"
  endpoint = "https://vault.internal:8200"
  engine   = "secret"
  version  = "v2"
  prefix   = "kes"
  ca_file  = "ca.pem"
  token    = var.t
}`, vars, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*Config)
	want := Config{Name: "kms.target", Endpoint: "https://vault.internal:8200", Engine: "secret", Version: V2,
		Prefix: "kes", CAFile: "/plans/ca.pem", Token: "hvs.super-secret-token"}
	if *c != want {
		t.Errorf("decoded %+v", *c)
	}
	if d := c.Describe(); strings.Contains(d, "super-secret") || d != "vault KV v2 at https://vault.internal:8200, secret/data/kes/, token" {
		t.Errorf("Describe() = %q", d)
	}
	if secrets.Redact("x hvs.super-secret-token") != "x "+secret.Mask {
		t.Error("the token is not recorded as a secret")
	}
	if _, ok := providers.Lookup(providers.KindKMS, "vault"); !ok {
		t.Error("vault backend not registered")
	}
}

func TestDecodeAppRoleDefaults(t *testing.T) {
	obj, diags, secrets := decodeSnippet(t, `kms "src" {
  type      = "vault"
  endpoint  = "http://127.0.0.1:8200"
  namespace = "ops"
  approle {
    id     = "role-id-123456"
    secret = "secret-id-abcdef"
  }
}`, nil, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*Config)
	if c.Engine != "kv" || c.Version != V1 || c.AppRole == nil || c.AppRole.Engine != "approle" || c.Token != "" {
		t.Errorf("decoded %+v %+v", *c, c.AppRole)
	}
	if got := secrets.Redact("secret-id-abcdef role-id-123456"); strings.Contains(got, "abcdef") || strings.Contains(got, "123456") {
		t.Errorf("AppRole credentials not recorded: %q", got)
	}
	if d := c.Describe(); d != "vault KV v1 at http://127.0.0.1:8200, kv/, namespace ops, approle login at auth/approle" {
		t.Errorf("Describe() = %q", d)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	head := "kms \"x\" {\n  type = \"vault\"\n"
	cases := []struct {
		body, summary string
		line          int
	}{
		{"  token = \"t\"\n", "Missing required argument", 1},
		{"  endpoint = \"vault:8200\"\n  token = \"t\"\n", "Invalid endpoint", 3},
		{"  endpoint = \"http://v\"\n  version = \"2\"\n  token = \"t\"\n", "Invalid version", 4},
		{"  endpoint = \"http://v\"\n  token = \"t\"\n  approle {\n    id = \"i\"\n    secret = \"s\"\n  }\n", "Conflicting credentials", 5},
		{"  endpoint = \"http://v\"\n", "Missing credentials", 1},
		{"  endpoint = \"http://v\"\n  token = \"\"\n", "Empty token", 4},
		{"  endpoint = \"http://v\"\n  approle {\n    id = \"i\"\n  }\n", "Missing required argument", 4},
		{"  endpoint = \"http://v\"\n  approle {\n    id = \"i\"\n    secret = \"\"\n  }\n", "Empty approle secret", 6},
		{"  endpoint = \"http://v\"\n  token = \"t\"\n  kv_version = 2\n", "Unsupported argument", 5},
		{"  endpoint = \"http://v\"\n  approle {\n    id = \"i\"\n    secret = \"s\"\n  }\n  approle {\n    id = \"i\"\n    secret = \"s\"\n  }\n", "Duplicate approle block", 8},
	}
	for _, c := range cases {
		t.Run(c.summary, func(t *testing.T) {
			_, diags, _ := decodeSnippet(t, head+c.body+"}", nil, false)
			hcltest.WantDiag(t, diags, c.summary, c.line)
		})
	}
}

func TestDecodeUnknownCredentialsUnderValidate(t *testing.T) {
	vars := map[string]cty.Value{"t": cty.UnknownVal(cty.String), "v": cty.UnknownVal(cty.String)}
	_, diags, _ := decodeSnippet(t, "kms \"x\" {\n  type = \"vault\"\n  endpoint = \"http://v\"\n  version = var.v\n  token = var.t\n}", vars, true)
	if diags.HasErrors() {
		t.Fatalf("unknown inputs under validate are reported: %v", diags)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []*Config{
		{Endpoint: "v:1", Version: V1, Token: "t"},
		{Endpoint: "http://v", Version: "v3", Token: "t"},
		{Endpoint: "http://v", Version: V1},
		{Endpoint: "http://v", Version: V1, Token: "t", AppRole: &AppRole{Engine: "approle", ID: "i", Secret: "s"}},
		{Endpoint: "http://v", Version: V1, AppRole: &AppRole{Engine: "approle", ID: "i"}},
		{Endpoint: "http://v", Version: V1, Token: "t", CAFile: "/nonexistent/ca.pem"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) succeeded", *c)
		}
	}
}
