package fs

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
)

// decodeSnippet decodes the first kms block of src as the plan loader does.
func decodeSnippet(t *testing.T, src string, vars map[string]cty.Value, validating bool) (any, hcl.Diagnostics) {
	t.Helper()
	obj, diags, _ := hcltest.Decode(t, providers.KindKMS, src, vars, validating)
	return obj, diags
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
		t.Run(c.summary, func(t *testing.T) {
			_, diags := decodeSnippet(t, c.src, nil, false)
			hcltest.WantDiag(t, diags, c.summary, c.line)
		})
	}
}

func TestDecodeUnknownPathUnderValidate(t *testing.T) {
	vars := map[string]cty.Value{"dir": cty.UnknownVal(cty.String)}
	_, diags := decodeSnippet(t, "kms \"x\" {\n  type = \"fs\"\n  path = var.dir\n}", vars, true)
	if diags.HasErrors() {
		t.Fatalf("an unknown path under validate is reported: %v", diags)
	}
}
