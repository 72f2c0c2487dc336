package hcldecode

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var refExamples = map[string]string{"kms": "kms.local", "minio": "minio.prod", "step": "step.drain.traffic"}

// Ref resolves expr, which must be a reference to a declared block of kind
// ("kms" or "minio"), and returns the decoded system it names. attr names
// the attribute in diagnostics. Under validation an unresolvable reference
// returns (nil, nil) when its root is right, since evaluation already
// reported it.
func (c *Context) Ref(expr hcl.Expression, kind, attr string) (any, hcl.Diagnostics) {
	tr, names, diags := c.refNames(expr, kind, attr)
	if diags.HasErrors() {
		return nil, diags
	}
	obj, ok := c.Resolve(kind, tr)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Reference to undeclared " + kind,
			Detail:  fmt.Sprintf("%s refers to %s, which is not declared in this plan (or its block has errors).", attr, strings.Join(names, ".")),
			Subject: expr.Range().Ptr()}}
	}
	return obj, nil
}

// StepRef checks that expr is step.<type>.<name> naming a declared step and
// returns the step's ID "<type>.<name>" and its decoded implementation as S,
// the step interface of the caller's layer (steps.Ref instantiates it with
// steps.Step; hcldecode cannot name that type, being below steps). impl is
// S's zero value when that step has errors or is not an S.
func StepRef[S any](c *Context, expr hcl.Expression, attr string) (id string, impl S, diags hcl.Diagnostics) {
	tr, names, diags := c.refNames(expr, "step", attr)
	if diags.HasErrors() {
		return "", impl, diags
	}
	if len(names) != 3 {
		return "", impl, hcl.Diagnostics{refDiag(expr, "step", attr)}
	}
	obj, ok := c.Resolve("step", tr)
	if !ok {
		return "", impl, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Reference to undeclared step",
			Detail:  fmt.Sprintf("%s refers to step %s.%s, which is not declared in this plan.", attr, names[1], names[2]),
			Subject: expr.Range().Ptr()}}
	}
	impl, _ = obj.(S)
	return names[1] + "." + names[2], impl, nil
}

func (c *Context) refNames(expr hcl.Expression, kind, attr string) (hcl.Traversal, []string, hcl.Diagnostics) {
	tr, d := hcl.AbsTraversalForExpr(expr)
	names := TraversalNames(tr)
	if d.HasErrors() || len(names) < 2 || names[0] != kind {
		return nil, nil, hcl.Diagnostics{refDiag(expr, kind, attr)}
	}
	return tr, names, nil
}

func refDiag(expr hcl.Expression, kind, attr string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference",
		Detail:  fmt.Sprintf("%s must refer to a %s block, such as %s.", attr, kind, refExamples[kind]),
		Subject: expr.Range().Ptr()}
}

// TraversalNames returns the root and attribute names of a traversal
// (string index keys count as names).
func TraversalNames(tr hcl.Traversal) []string {
	var out []string
	for _, t := range tr {
		switch s := t.(type) {
		case hcl.TraverseRoot:
			out = append(out, s.Name)
		case hcl.TraverseAttr:
			out = append(out, s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String && s.Key.IsKnown() {
				out = append(out, s.Key.AsString())
			}
		}
	}
	return out
}
