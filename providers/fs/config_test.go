package fs

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/providers"
)

// decodeSnippet parses one kms block and decodes it as the plan loader
// does: the type attribute removed, then Decode.
func decodeSnippet(t *testing.T, src string, vars map[string]cty.Value, validating bool) (any, hcl.Diagnostics) {
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
	dc := &hcldecode.Context{Eval: &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}},
		Secrets: &secret.Set{}, BaseDir: "/plans", Validating: validating}
	return Decode(b.Labels[0], body, dc)
}

func TestDecode(t *testing.T) {
	obj, diags := decodeSnippet(t, `kms "kes_fs" {
  type = "fs"
  path = "keys"
}`, nil, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := obj.(*Config)
	if c.Name != "kms.kes_fs" || c.Dir != "/plans/keys" || c.Describe() != "fs keystore at /plans/keys" {
		t.Errorf("decoded %+v, %q", c, c.Describe())
	}
	if _, ok := providers.Lookup(providers.KindKMS, "fs"); !ok {
		t.Error("fs backend not registered")
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	cases := []struct {
		src, summary string
		line         int
	}{
		{"kms \"x\" {\n  type = \"fs\"\n}", "Missing required argument", 1},
		{"kms \"x\" {\n  type = \"fs\"\n  path = \"\"\n}", "Empty path", 3},
		{"kms \"x\" {\n  type = \"fs\"\n  path = \"k\"\n  dir = \"k\"\n}", "Unsupported argument", 4},
		{"kms \"x\" {\n  type = \"fs\"\n  path = [\"k\"]\n}", "Incorrect attribute value type", 3},
	}
	for _, c := range cases {
		_, diags := decodeSnippet(t, c.src, nil, false)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", c.src)
			continue
		}
		d := diags[0]
		if d.Summary != c.summary || d.Subject == nil || d.Subject.Start.Line != c.line {
			t.Errorf("%q: got %q at %v, want %q on line %d", c.src, d.Summary, d.Subject, c.summary, c.line)
		}
	}
}

func TestDecodeUnknownPathUnderValidate(t *testing.T) {
	vars := map[string]cty.Value{"dir": cty.UnknownVal(cty.String)}
	_, diags := decodeSnippet(t, "kms \"x\" {\n  type = \"fs\"\n  path = var.dir\n}", vars, true)
	if diags.HasErrors() {
		t.Fatalf("an unknown path under validate is reported: %v", diags)
	}
}
