package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// loadLocals evaluates every locals entry in dependency order. A reference to
// a local that does not exist is reported by evaluation; a cycle among locals
// is reported once, naming the locals in it.
func (l *loader) loadLocals() hcl.Diagnostics {
	var diags hcl.Diagnostics
	pending := map[string]*hcl.Attribute{}
	for _, b := range l.content.Blocks.OfType("locals") {
		attrs, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for name, a := range attrs {
			if prev, dup := pending[name]; dup {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate local value %q", name),
					Detail: fmt.Sprintf("A local value named %q was already defined at %s.", name, prev.Range), Subject: a.Range.Ptr()})
				continue
			}
			pending[name] = a
		}
	}
	values := map[string]cty.Value{}
	l.setVar("local", cty.ObjectVal(values))
	for len(pending) > 0 {
		progressed := false
		for _, name := range sortedNames(pending) {
			a := pending[name]
			if !localsReady(a.Expr, values, pending) {
				continue
			}
			val, d := a.Expr.Value(l.eval)
			diags = append(diags, d...)
			values[name] = val
			delete(pending, name)
			progressed = true
			l.setVar("local", cty.ObjectVal(values))
		}
		if !progressed {
			return append(diags, cycleDiag(pending))
		}
	}
	return diags
}

// localsReady reports whether every local that expr refers to is evaluated
// (references to undeclared locals count as ready: evaluation reports them).
func localsReady(expr hcl.Expression, done map[string]cty.Value, pending map[string]*hcl.Attribute) bool {
	for _, tr := range expr.Variables() {
		names := traversalNames(tr)
		if len(names) < 2 || names[0] != "local" {
			continue
		}
		if _, isPending := pending[names[1]]; isPending {
			return false
		}
	}
	return true
}

func cycleDiag(pending map[string]*hcl.Attribute) *hcl.Diagnostic {
	names := sortedNames(pending)
	first := pending[names[0]]
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cycle in local values",
		Detail:   fmt.Sprintf("The local values %s refer to each other in a cycle, so none of them can be evaluated. Break the cycle.", "local."+strings.Join(names, ", local.")),
		Subject:  first.Range.Ptr(),
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
