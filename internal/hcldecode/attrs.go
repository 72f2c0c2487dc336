package hcldecode

import (
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// Attributes returns a body's attributes that target's hcl tags declare,
// by name, for decoders that point diagnostics at them. Anything it cannot
// read is left out (DecodeBody reports it).
func Attributes(body hcl.Body, target any) hcl.Attributes {
	schema, _ := gohcl.ImpliedBodySchema(target)
	content, _, _ := body.PartialContent(schema)
	if content == nil {
		return hcl.Attributes{}
	}
	return content.Attributes
}

// Known reports whether a is set and its value is wholly known (under
// `cutover validate` a variable without a value is unknown, and decoders
// skip checks of such values).
func (c *Context) Known(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(c.Eval)
	return !diags.HasErrors() && v.IsWhollyKnown() && !v.IsNull()
}

// AttrError is an error diagnostic pointing at an attribute's value.
func AttrError(summary, detail string, a *hcl.Attribute) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail,
		Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr()}
}

// SecretElements reports which of the n elements of a list attribute come
// from sensitive values (all of them when the list as a whole is
// sensitive), for showing a command line with those arguments masked. It
// is nil when a is nil, does not evaluate (already reported), is unknown
// (under validate) or holds nothing sensitive.
func SecretElements(a *hcl.Attribute, dc *Context, n int) []bool {
	if a == nil {
		return nil
	}
	v, diags := a.Expr.Value(dc.Eval)
	if diags.HasErrors() || !v.IsWhollyKnown() || !v.ContainsMarked() {
		return nil
	}
	_, marks := v.UnmarkDeepWithPaths()
	mask := make([]bool, n)
	for _, pvm := range marks {
		if _, ok := pvm.Marks[SensitiveMark]; !ok {
			continue
		}
		if i, ok := elementIndex(pvm.Path); ok && i < n {
			mask[i] = true
			continue
		}
		for i := range mask { // the whole list, or a part that cannot be placed
			mask[i] = true
		}
	}
	return mask
}

// elementIndex is the list index a value path starts with.
func elementIndex(path cty.Path) (int, bool) {
	if len(path) == 0 {
		return 0, false
	}
	step, ok := path[0].(cty.IndexStep)
	if !ok || step.Key.Type() != cty.Number {
		return 0, false
	}
	i, acc := step.Key.AsBigFloat().Int64()
	return int(i), acc == big.Exact && i >= 0
}
