package awssm

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/providers"
)

// decodeSnippet parses one kms block and decodes it as the plan loader
// does (type attribute removed).
func decodeSnippet(t *testing.T, src string, vars map[string]cty.Value) (any, *secret.Set, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "plan.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "kms", LabelNames: []string{"name"}}}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	b := content.Blocks[0]
	_, body, _ := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "type", Required: true}}})
	if vars == nil {
		vars = map[string]cty.Value{}
	}
	secrets := &secret.Set{}
	dc := &hcldecode.Context{Eval: &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}}, Secrets: secrets}
	obj, diags := Decode(b.Labels[0], body, dc)
	return obj, secrets, diags
}

func TestDecode(t *testing.T) {
	obj, secrets, diags := decodeSnippet(t, `kms "aws" {
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
		_, _, diags := decodeSnippet(t, head+c.body+"}", nil)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", c.body)
			continue
		}
		d := diags[0]
		if d.Summary != c.summary || d.Subject == nil || d.Subject.Start.Line != c.line {
			t.Errorf("%q: got %q at %v, want %q on line %d", c.body, d.Summary, d.Subject, c.summary, c.line)
		}
	}
}

func TestDecodeSensitiveVariable(t *testing.T) {
	vars := map[string]cty.Value{"sk": cty.StringVal("marked-secret-key").Mark(hcldecode.SensitiveMark)}
	_, secrets, diags := decodeSnippet(t, "kms \"x\" {\n  type = \"aws_secretsmanager\"\n  region = \"r\"\n  access_key = \"a\"\n  secret_key = var.sk\n}", vars)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if secrets.Redact("marked-secret-key") != secret.Mask {
		t.Error("sensitive secret_key not recorded")
	}
}
