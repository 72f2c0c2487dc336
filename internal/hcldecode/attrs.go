package hcldecode

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
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
