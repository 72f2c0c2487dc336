// Package hcldecode decodes HCL bodies into Go structs the way gohcl does (same
// `hcl:"name,attr|optional|block|label"` tags, same diagnostics with source
// ranges), with two differences cutover needs: values marked sensitive are
// unmarked and their strings recorded in a secret.Set instead of panicking, and
// unknown values (a variable with no value under `cutover validate`) leave the
// field at its zero value instead of failing.
package hcldecode

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/transport"
)

// SensitiveMark is the cty mark carried by values derived from sensitive inputs.
const SensitiveMark = "sensitive"

// Resolver finds the object a reference such as kms.local or step.env.switch
// names. kind is the reference's root ("kms", "minio", "step"); ok is false
// when nothing of that name exists.
type Resolver func(kind string, traversal hcl.Traversal) (obj any, ok bool)

// Context carries what a block decoder needs: the evaluation context, where
// secrets go, how to resolve references, and the plan's directory.
type Context struct {
	Eval    *hcl.EvalContext
	Secrets *secret.Set
	Resolve Resolver
	// BaseDir is the plan file's directory; relative paths are resolved from it.
	BaseDir string
	// Validating is true under `cutover validate`: inputs may be unknown.
	Validating bool
	// Systems returns the decoded system blocks of a kind ("kms") by
	// reference ("kms.vault"); nil when the caller does not provide them.
	Systems func(kind string) map[string]any
	// Earlier returns the steps decoded before the one being decoded, in
	// plan order (each a steps.Step); nil when not provided.
	Earlier func() []EarlierStep
	// On is the hosts a step runs on (`on = ...`), in order; empty for a
	// step on the operator's machine. A step decoded per host gets one.
	On []transport.Transport
	// NodeEval, for a step with On decoded once for all its hosts, is the
	// evaluation context with `node` bound to On[i] (Eval holds node
	// unknown), for attributes evaluated per host.
	NodeEval func(i int) *hcl.EvalContext
	// Hosts returns every host of the plan by name (a compensation finds
	// the host its record names there); nil when the plan has none.
	Hosts func() map[string]transport.Transport
}

// EarlierStep is a step decoded before the current one.
type EarlierStep struct {
	ID   string // "<type>.<name>"
	Impl any    // its steps.Step
}

var exprType = reflect.TypeOf((*hcl.Expression)(nil)).Elem()

// Path resolves p relative to the plan's directory.
func (c *Context) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.BaseDir, p)
}

// DecodeBody decodes body into target, a pointer to a struct with hcl tags.
// Unknown attributes and blocks, missing required ones and type mismatches are
// reported with their source ranges.
func (c *Context) DecodeBody(body hcl.Body, target any) hcl.Diagnostics {
	rv := reflect.ValueOf(target)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("hcldecode: target must be a pointer to a struct, got %T", target))
	}
	content, diags := body.Content(ImpliedSchema(target))
	diags = append(diags, c.decodeContent(content, rv.Elem())...)
	return diags
}

// requireExpressions marks the attributes decoded into hcl.Expression fields
// required unless they are tagged optional. gohcl leaves them optional (a
// missing expression is a nil field), and a decoder that then uses the nil
// expression panics.
func requireExpressions(schema *hcl.BodySchema, st reflect.Type) {
	for i := 0; i < st.NumField(); i++ {
		name, kind, ok := fieldTag(st.Field(i))
		if !ok || kind != "attr" || st.Field(i).Type != exprType {
			continue
		}
		for j := range schema.Attributes {
			if schema.Attributes[j].Name == name {
				schema.Attributes[j].Required = true
			}
		}
	}
}

func (c *Context) decodeContent(content *hcl.BodyContent, sv reflect.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	st := sv.Type()
	for i := 0; i < st.NumField(); i++ {
		name, kind, ok := fieldTag(st.Field(i))
		if !ok {
			continue
		}
		fv := sv.Field(i)
		switch kind {
		case "attr", "optional":
			if attr, ok := content.Attributes[name]; ok {
				diags = append(diags, c.decodeAttr(attr, fv)...)
				if sensitiveField(st.Field(i)) && c.Secrets != nil && fv.Type() != exprType {
					recordField(fv, c.Secrets)
				}
			}
		case "block":
			diags = append(diags, c.decodeBlocks(content.Blocks.OfType(name), fv)...)
		}
	}
	return diags
}

func fieldTag(f reflect.StructField) (name, kind string, ok bool) {
	tag, ok := f.Tag.Lookup("hcl")
	if !ok {
		return "", "", false
	}
	name, kind, _ = strings.Cut(tag, ",")
	if kind == "" {
		kind = "attr"
	}
	return name, kind, true
}

func (c *Context) decodeAttr(attr *hcl.Attribute, fv reflect.Value) hcl.Diagnostics {
	if fv.Type() == exprType {
		fv.Set(reflect.ValueOf(attr.Expr))
		return nil
	}
	val, diags := c.Value(attr.Expr)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return diags
	}
	ty, err := gocty.ImpliedType(fv.Addr().Interface())
	if err != nil {
		panic(fmt.Sprintf("hcldecode: field for %q: %s", attr.Name, err))
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		return append(diags, typeDiag(attr, err))
	}
	if conv.IsNull() {
		return diags
	}
	if err := gocty.FromCtyValue(conv, fv.Addr().Interface()); err != nil {
		return append(diags, typeDiag(attr, err))
	}
	return diags
}

func typeDiag(attr *hcl.Attribute, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Incorrect attribute value type",
		Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", attr.Name, err),
		Subject:  attr.Expr.Range().Ptr(),
		Context:  attr.Range.Ptr(),
	}
}

// Value evaluates expr, records the strings of any sensitive part in
// c.Secrets, and returns the value unmarked.
func (c *Context) Value(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	val, diags := expr.Value(c.Eval)
	val, sensitive := c.unmark(val)
	_ = sensitive
	return val, diags
}

// SensitiveValue is Value that also says whether any part of the value was
// sensitive, for renderers that must mask it structurally.
func (c *Context) SensitiveValue(expr hcl.Expression) (cty.Value, bool, hcl.Diagnostics) {
	val, diags := expr.Value(c.Eval)
	val, sensitive := c.unmark(val)
	return val, sensitive, diags
}

func (c *Context) unmark(val cty.Value) (cty.Value, bool) {
	if !val.ContainsMarked() {
		return val, false
	}
	unmarked, pvms := val.UnmarkDeepWithPaths()
	if c.Secrets != nil {
		for _, pvm := range pvms {
			if _, ok := pvm.Marks[SensitiveMark]; !ok {
				continue
			}
			sub, err := pvm.Path.Apply(unmarked)
			if err != nil {
				sub = unmarked // cannot tell which part: mask it all
			}
			RecordStrings(sub, c.Secrets)
		}
	}
	return unmarked, true
}

// RecordStrings adds every known string leaf of val to set.
func RecordStrings(val cty.Value, set *secret.Set) {
	EachString(val, func(s string) { set.Add(s) })
}

// EachString calls fn with every known string in val, and with the text
// of every known number (a sensitive number prints as that text).
func EachString(val cty.Value, fn func(string)) {
	val, _ = val.UnmarkDeep()
	_ = cty.Walk(val, func(_ cty.Path, v cty.Value) (bool, error) {
		if !v.IsKnown() || v.IsNull() {
			return true, nil
		}
		switch v.Type() {
		case cty.String:
			fn(v.AsString())
		case cty.Number:
			fn(v.AsBigFloat().Text('f', -1))
		}
		return true, nil
	})
}

func (c *Context) decodeBlocks(blocks hcl.Blocks, fv reflect.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch fv.Kind() {
	case reflect.Slice:
		elems := reflect.MakeSlice(fv.Type(), len(blocks), len(blocks))
		for i, b := range blocks {
			diags = append(diags, c.decodeBlock(b, elems.Index(i))...)
		}
		fv.Set(elems)
	case reflect.Pointer:
		if len(blocks) == 0 {
			return nil
		}
		diags = append(diags, extraBlocks(blocks)...)
		ptr := reflect.New(fv.Type().Elem())
		diags = append(diags, c.decodeBlock(blocks[0], ptr.Elem())...)
		fv.Set(ptr)
	default:
		if len(blocks) == 0 {
			return nil
		}
		diags = append(diags, extraBlocks(blocks)...)
		diags = append(diags, c.decodeBlock(blocks[0], fv)...)
	}
	return diags
}

func extraBlocks(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range blocks[1:] {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate " + b.Type + " block",
			Detail:   fmt.Sprintf("Only one %q block is allowed here; another was defined at %s.", b.Type, blocks[0].DefRange),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return diags
}

func (c *Context) decodeBlock(b *hcl.Block, sv reflect.Value) hcl.Diagnostics {
	labelIdx := 0
	st := sv.Type()
	for i := 0; i < st.NumField(); i++ {
		if _, kind, ok := fieldTag(st.Field(i)); ok && kind == "label" && labelIdx < len(b.Labels) {
			sv.Field(i).SetString(b.Labels[labelIdx])
			labelIdx++
		}
	}
	return c.DecodeBody(b.Body, sv.Addr().Interface())
}
