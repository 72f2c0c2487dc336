package minio_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
	cm "github.com/cutover/cutover/providers/minio"
)

const testSecret = "minio-secret-KEY-123456"

// decode decodes the first minio block of src as the plan loader does.
func decode(t *testing.T, src string, validating bool) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	vars := map[string]cty.Value{
		"secret":  cty.StringVal(testSecret).Mark(hcldecode.SensitiveMark),
		"unknown": cty.UnknownVal(cty.String),
	}
	return hcltest.Decode(t, providers.KindMinIO, src, vars, validating)
}

func TestDecode(t *testing.T) {
	obj, diags, set := decode(t, `minio "prod" {
  endpoint   = "https://minio.internal:9000"
  access_key = "admin"
  secret_key = var.secret
  ca_file    = "certs/ca.pem"
  region     = "eu-west-1"
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*cm.Config)
	if c.Name != "minio.prod" || c.Endpoint != "https://minio.internal:9000" || c.AccessKey != "admin" ||
		c.SecretKey != testSecret || c.CAFile != "/plans/certs/ca.pem" || c.Region != "eu-west-1" {
		t.Errorf("config = %+v", c)
	}
	if set.Redact(testSecret) != secret.Mask {
		t.Error("the secret key was not recorded as a secret")
	}
	if d := c.Describe(); d != "minio.prod at https://minio.internal:9000" {
		t.Errorf("Describe() = %q", d)
	}
}

// A literal secret key is masked too: it is a secret whatever its source.
func TestDecodeLiteralSecretIsMasked(t *testing.T) {
	obj, diags, set := decode(t, `minio "m" {
  endpoint = "http://127.0.0.1:9000"
  access_key = "admin"
  secret_key = "`+testSecret+`"
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if set.Redact("x "+testSecret) != "x "+secret.Mask {
		t.Error("a literal secret_key was not recorded as a secret")
	}
	if strings.Contains(obj.(*cm.Config).Describe(), testSecret) {
		t.Error("Describe shows the secret key")
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, body, summary, detail string
		line                        int
	}{
		{"scheme", `endpoint = "ftp://m:9000"`, "Invalid MinIO endpoint", "must start with http:// or https://", 2},
		{"path", `endpoint = "http://m:9000/bucket"`, "Invalid MinIO endpoint", "no path", 2},
		{"ca without tls", `endpoint = "http://m:9000"
  ca_file = "ca.pem"`, "CA file without TLS", "only used with an https:// endpoint", 3},
		{"unknown attribute", `endpoint = "http://m:9000"
  bucket = "x"`, "Unsupported argument", `"bucket" is not expected`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags, _ := decode(t, "minio \"m\" {\n  "+tc.body+"\n  access_key = \"a\"\n  secret_key = var.secret\n}", false)
			d := hcltest.WantDiagDetail(t, diags, tc.summary, tc.detail, tc.line)
			if strings.Contains(d.Detail, testSecret) {
				t.Error("the diagnostic shows the secret key")
			}
		})
	}
}

func TestDecodeMissingCredentials(t *testing.T) {
	_, diags, _ := decode(t, `minio "m" {
  endpoint = "http://m:9000"
}`, false)
	for _, attr := range []string{"access_key", "secret_key"} {
		found := false
		for _, d := range diags {
			found = found || (d.Summary == "Missing required argument" && strings.Contains(d.Detail, attr))
		}
		if !found {
			t.Errorf("no missing-argument diagnostic for %s in %v", attr, diags)
		}
	}
}

// Under `cutover validate`, values from variables without a value are
// unknown and not checked.
func TestDecodeUnknownValues(t *testing.T) {
	_, diags, _ := decode(t, `minio "m" {
  endpoint   = var.unknown
  access_key = var.unknown
  secret_key = var.unknown
  ca_file    = "ca.pem"
}`, true)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
}
