package plan

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/suggest"
	"github.com/cutover/cutover/providers"
)

// systemType is the attribute a typed system block (kms) chooses its
// backend with; the rest of its body is the backend's.
type systemType struct {
	Type string `hcl:"type" doc:"The backend; one of the types listed below."`
}

var typeAttrSchema = hcldecode.ImpliedSchema(&systemType{})

// declareSystems makes kms.<name> and minio.<name> referable before any block
// body is decoded: each is an object {kind, name, type}.
func (l *loader) declareSystems() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range providers.Kinds {
		objs := map[string]cty.Value{}
		seen := map[string]*hcl.Block{}
		for _, b := range l.content.Blocks.OfType(k.Name) {
			name := b.Labels[0]
			if prev, dup := seen[name]; dup {
				diags = append(diags, duplicateDiag(k.Name, name, prev, b))
				continue
			}
			seen[name] = b
			if !hclsyntax.ValidIdentifier(name) {
				diags = append(diags, errorDiag("Invalid name", fmt.Sprintf("%q is not a valid %s name: use letters, digits, underscores and dashes, starting with a letter.", name, k.Name), b.LabelRanges[0]))
			}
			objs[name] = cty.ObjectVal(map[string]cty.Value{
				"kind": cty.StringVal(k.Name), "name": cty.StringVal(name), "id": cty.StringVal(k.Name + "." + name),
			})
		}
		l.setVar(k.Name, cty.ObjectVal(objs))
	}
	return diags
}

func (l *loader) decodeSystems() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range providers.Kinds {
		done := map[string]bool{}
		for _, b := range referredFirst(l.content.Blocks.OfType(k.Name), k.Name) {
			if done[b.Labels[0]] {
				continue // duplicate, reported by declareSystems
			}
			done[b.Labels[0]] = true
			diags = append(diags, l.decodeSystem(k.Name, k.Typed, b)...)
		}
	}
	return diags
}

// referredFirst orders blocks of one kind so that those referring to
// another block of that kind (a kes block's keystore = kms.vault) decode
// after the rest, whatever their order in the file; otherwise stable.
func referredFirst(blocks hcl.Blocks, kind string) hcl.Blocks {
	out := make(hcl.Blocks, 0, len(blocks))
	var later hcl.Blocks
	for _, b := range blocks {
		if refersTo(b.Body, kind) {
			later = append(later, b)
		} else {
			out = append(out, b)
		}
	}
	return append(out, later...)
}

// refersTo reports whether body refers to a block of kind (kind.<name>).
func refersTo(body hcl.Body, kind string) bool {
	for _, tr := range bodyTraversals(body) {
		if names := traversalNames(tr); len(names) > 1 && names[0] == kind {
			return true
		}
	}
	return false
}

func (l *loader) decodeSystem(kind string, typed bool, b *hcl.Block) hcl.Diagnostics {
	body, typ, diags := b.Body, "", hcl.Diagnostics(nil)
	if typed {
		var content *hcl.BodyContent
		content, body, diags = b.Body.PartialContent(typeAttrSchema)
		if diags.HasErrors() {
			return diags
		}
		var d hcl.Diagnostics
		typ, d = l.systemType(kind, content.Attributes["type"])
		if d.HasErrors() {
			return append(diags, d...)
		}
	}
	backend, ok := providers.Lookup(kind, typ)
	if !ok {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported " + kind + " block",
			Detail: fmt.Sprintf("No backend for %s blocks is built into this cutover.", kind), Subject: b.DefRange.Ptr()})
	}
	obj, d := backend.Decode(b.Labels[0], body, l.decodeContext())
	diags = append(diags, d...)
	if !d.HasErrors() {
		l.plan.Systems[kind+"."+b.Labels[0]] = obj
	}
	return diags
}

func (l *loader) systemType(kind string, a *hcl.Attribute) (string, hcl.Diagnostics) {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	if val.Type() != cty.String || val.IsNull() {
		return "", hcl.Diagnostics{errorDiag("Invalid "+kind+" type", "The type must be a literal string, such as \"vault\".", a.Expr.Range())}
	}
	typ := val.AsString()
	if _, ok := providers.Lookup(kind, typ); !ok {
		known := providers.Types(kind)
		detail := fmt.Sprintf("There is no %s type %q. The supported types are: %s.", kind, typ, strings.Join(known, ", "))
		if s := suggest.Closest(typ, known); s != "" {
			detail = fmt.Sprintf("There is no %s type %q; did you mean %q? The supported types are: %s.", kind, typ, s, strings.Join(known, ", "))
		}
		return "", hcl.Diagnostics{errorDiag("Unknown "+kind+" type", detail, a.Expr.Range())}
	}
	return typ, nil
}
