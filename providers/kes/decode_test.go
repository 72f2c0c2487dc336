package kes_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
)

const testAPIKey = "kes:v1:AHuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih"

// decode decodes the first kms block of src as the registered kes
// backend does when a plan is loaded.
func decode(t *testing.T, src string, validating bool) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	vars := map[string]cty.Value{
		"kes_api_key": cty.StringVal(testAPIKey).Mark(hcldecode.SensitiveMark),
		"unknown":     cty.UnknownVal(cty.String),
	}
	return hcltest.Decode(t, providers.KindKMS, src, vars, validating)
}

func TestDecode(t *testing.T) {
	obj, diags, set := decode(t, `kms "kes" {
  type     = "kes"
  endpoint = "https://127.0.0.1:7373"
  api_key  = var.kes_api_key
  ca_file  = "certs/kes.crt"
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*kes.Config)
	if c.Name != "kms.kes" || c.Endpoint != "https://127.0.0.1:7373" || c.APIKey != testAPIKey || c.CAFile != "/plans/certs/kes.crt" {
		t.Errorf("config = %+v", c)
	}
	if set.Redact(testAPIKey) != secret.Mask {
		t.Error("the API key was not recorded as a secret")
	}
	if d := c.Describe(); strings.Contains(d, "kes:v1") || !strings.Contains(d, "https://127.0.0.1:7373") {
		t.Errorf("Describe() = %q", d)
	}
	if _, ok := obj.(providers.KeyStoreConfig); !ok {
		t.Error("not a providers.KeyStoreConfig")
	}
}

func TestDecodeLiteralKeyIsSecret(t *testing.T) {
	_, diags, set := decode(t, `kms "kes" {
  type = "kes"
  endpoint = "https://kes:7373"
  api_key = "`+testAPIKey+`"
}`, false)
	if diags.HasErrors() || set.Redact(testAPIKey) != secret.Mask {
		t.Fatalf("diags %v; a literal api_key must be masked too", diags)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	cases := []struct {
		name, body, summary string
		line                int
	}{
		{"http endpoint", `endpoint = "http://127.0.0.1:7373"
  api_key = var.kes_api_key`, "Invalid KES endpoint", 3},
		{"bad api key", `endpoint = "https://k:7373"
  api_key = "kes:v1:c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw=="`, "Invalid KES API key", 4},
		{"no credentials", `endpoint = "https://k:7373"`, "Missing KES credentials", 1},
		{"both credentials", `endpoint = "https://k:7373"
  api_key = var.kes_api_key
  cert_file = "c.pem"
  key_file = "k.pem"`, "Conflicting KES credentials", 5},
		{"half a certificate", `endpoint = "https://k:7373"
  cert_file = "c.pem"`, "Incomplete KES credentials", 4},
		{"bad enclave", `endpoint = "https://k:7373"
  api_key = var.kes_api_key
  enclave = "no spaces"`, "Invalid KES enclave", 5},
		{"unknown attribute", `endpoint = "https://k:7373"
  api_key = var.kes_api_key
  token = "x"`, "Unsupported argument", 5},
		{"missing endpoint", `api_key = var.kes_api_key`, "Missing required argument", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags, _ := decode(t, "kms \"kes\" {\n  type = \"kes\"\n  "+c.body+"\n}", false)
			hcltest.WantDiag(t, diags, c.summary, c.line)
			if strings.Contains(diags.Error(), "c2VjcmV0") || strings.Contains(diags.Error(), "AHuV") {
				t.Errorf("diagnostic leaks the key: %s", diags.Error())
			}
		})
	}
}

func TestDecodeUnknownUnderValidate(t *testing.T) {
	_, diags, _ := decode(t, `kms "kes" {
  type = "kes"
  endpoint = var.unknown
  api_key = var.unknown
}`, true)
	if diags.HasErrors() {
		t.Fatalf("unknown values must not be checked under validate: %v", diags)
	}
}

func TestDecodeCertificateFiles(t *testing.T) {
	obj, diags, _ := decode(t, `kms "kes" {
  type = "kes"
  endpoint = "https://k:7373"
  cert_file = "minio.crt"
  key_file = "/etc/minio/minio.key"
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c := obj.(*kes.Config); c.CertFile != "/plans/minio.crt" || c.KeyFile != "/etc/minio/minio.key" || c.APIKey != "" {
		t.Errorf("config = %+v", c)
	}
}
