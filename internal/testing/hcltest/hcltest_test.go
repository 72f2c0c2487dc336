package hcltest_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/fs"
)

func TestDecode(t *testing.T) {
	vars := map[string]cty.Value{"dir": cty.StringVal("keys")}
	obj, diags, set := hcltest.Decode(t, providers.KindKMS, "kms \"x\" {\n  type = \"fs\"\n  path = var.dir\n}", vars, false)
	if diags.HasErrors() || set == nil {
		t.Fatal(diags)
	}
	if c := obj.(*fs.Config); c.Name != "kms.x" || c.Dir != hcltest.BaseDir+"/keys" {
		t.Errorf("decoded %+v", c)
	}
	_, diags, _ = hcltest.Decode(t, providers.KindKMS, "kms \"x\" {\n  type = \"fs\"\n  path = \"\"\n}", nil, false)
	hcltest.WantDiag(t, diags, "Empty path", 3)
	hcltest.WantDiagDetail(t, diags, "Empty path", "", 3)
}

func TestContext(t *testing.T) {
	dc := hcltest.Context(nil, true)
	if !dc.Validating || dc.Secrets == nil || dc.BaseDir != hcltest.BaseDir || !dc.Eval.Variables["var"].Type().Equals(cty.EmptyObject) {
		t.Errorf("context = %+v", dc)
	}
}
