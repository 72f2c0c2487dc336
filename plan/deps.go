package plan

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// AllVariables in Step.Vars means the step's dependencies could not be
// read (a JSON body): it counts as using every variable.
const AllVariables = "*"

// varsOf returns the variables a step body refers to, directly or through
// locals and system blocks (kms.x, minio.x), sorted; AllVariables when a
// body on the way is not native syntax.
func (l *loader) varsOf(body hcl.Body) []string {
	seen := map[string]bool{}
	vars := map[string]bool{}
	l.collectVars(body, seen, vars)
	out := make([]string, 0, len(vars))
	for v := range vars {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func (l *loader) collectVars(body hcl.Body, seen, vars map[string]bool) {
	if _, native := body.(*hclsyntax.Body); !native {
		vars[AllVariables] = true
		return
	}
	for _, tr := range bodyTraversals(body) {
		l.collectRef(traversalNames(tr), seen, vars)
	}
}

func (l *loader) collectRef(names []string, seen, vars map[string]bool) {
	if len(names) < 2 {
		return
	}
	key := names[0] + "." + names[1]
	if seen[key] {
		return
	}
	seen[key] = true
	switch names[0] {
	case "var":
		vars[names[1]] = true
	case "local":
		for _, b := range l.content.Blocks.OfType("locals") {
			attrs, _ := b.Body.JustAttributes()
			if a, ok := attrs[names[1]]; ok {
				for _, tr := range a.Expr.Variables() {
					l.collectRef(traversalNames(tr), seen, vars)
				}
			}
		}
	case "step":
	default: // a system block: kms.x, minio.x
		for _, b := range l.content.Blocks.OfType(names[0]) {
			if len(b.Labels) > 0 && b.Labels[0] == names[1] {
				l.collectVars(b.Body, seen, vars)
			}
		}
	}
}
