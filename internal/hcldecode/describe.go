package hcldecode

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/cutover/cutover/internal/secret"
)

// Documentation tags. Every field with an `hcl` tag in a struct that
// DecodeBody decodes also carries, next to it:
//
//	doc:"..."         what the attribute or block means (required: Describe
//	                  fails without it, and so does the reference's test)
//	default:"..."     the value used when it is left out, written as HCL
//	type:"..."        the HCL type when the Go type does not say it; required
//	                  on hcl.Expression fields ("reference to kms.<name>")
//	sensitive:"true"  the value is a secret: DecodeBody records it in the
//	                  plan's secret set, so it is masked in every output,
//	                  whether or not it came from a sensitive variable
//
// Describe reads them; docs/reference.md is generated from what it returns.

// Attr describes one attribute of a block.
type Attr struct {
	Name      string
	Type      string
	Default   string // "" when there is none to state
	Doc       string
	Required  bool
	Sensitive bool
}

// Block describes a block: its labels, attributes and nested blocks.
type Block struct {
	Name     string
	Labels   []string
	Doc      string
	Required bool
	Repeated bool // a list of blocks rather than at most one
	Attrs    []Attr
	Blocks   []Block
}

// ErrUndocumented is returned by Describe for a field without a `doc` tag,
// or an hcl.Expression field without a `type` tag.
var ErrUndocumented = errors.New("undocumented field")

// Describe returns the attributes and nested blocks that DecodeBody accepts
// for target (a struct or a pointer to one), in field order, with what
// their tags say. It fails, naming every field at fault, when a field
// lacks its documentation.
func Describe(target any) (Block, error) {
	t := reflect.TypeOf(target)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return Block{}, fmt.Errorf("hcldecode: describe %T: not a struct", target)
	}
	var problems []string
	b := describeStruct(t, &problems)
	if len(problems) > 0 {
		return b, fmt.Errorf("%w: %s", ErrUndocumented, strings.Join(problems, "; "))
	}
	return b, nil
}

func describeStruct(t reflect.Type, problems *[]string) Block {
	var b Block
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, kind, ok := fieldTag(f)
		if !ok {
			continue
		}
		doc := f.Tag.Get("doc")
		if doc == "" {
			*problems = append(*problems, fmt.Sprintf("%s.%s (%q) has no doc tag", t.Name(), f.Name, name))
		}
		switch kind {
		case "label", "remain":
			continue
		case "block":
			b.Blocks = append(b.Blocks, describeBlock(name, doc, f.Type, problems))
			continue
		}
		typ := f.Tag.Get("type")
		if typ == "" {
			typ = hclType(f.Type)
		}
		if typ == "" {
			*problems = append(*problems, fmt.Sprintf("%s.%s (%q) needs a type tag", t.Name(), f.Name, name))
		}
		b.Attrs = append(b.Attrs, Attr{Name: name, Type: typ, Default: f.Tag.Get("default"), Doc: doc,
			Required: kind == "attr", Sensitive: f.Tag.Get("sensitive") == "true"})
	}
	return b
}

func describeBlock(name, doc string, ft reflect.Type, problems *[]string) Block {
	required, repeated := true, false
	switch ft.Kind() {
	case reflect.Slice:
		required, repeated, ft = false, true, ft.Elem()
	case reflect.Pointer:
		required = false
	}
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	nb := describeStruct(ft, problems)
	nb.Name, nb.Doc, nb.Required, nb.Repeated = name, doc, required, repeated
	for i := 0; i < ft.NumField(); i++ {
		if n, kind, ok := fieldTag(ft.Field(i)); ok && kind == "label" {
			nb.Labels = append(nb.Labels, n)
		}
	}
	return nb
}

// hclType names the HCL type of a Go field type; "" for hcl.Expression,
// whose type only its documentation can say.
func hclType(t reflect.Type) string {
	if t == exprType {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if e := hclType(t.Elem()); e != "" {
			return "list(" + e + ")"
		}
	case reflect.Map:
		if e := hclType(t.Elem()); e != "" && t.Key().Kind() == reflect.String {
			return "map(" + e + ")"
		}
	}
	return ""
}

// sensitiveField reports whether a field's value is always a secret.
func sensitiveField(f reflect.StructField) bool { return f.Tag.Get("sensitive") == "true" }

// ImpliedSchema is the body schema DecodeBody uses for target: gohcl's,
// with hcl.Expression attributes required unless tagged optional. Decoders
// that read content themselves (PartialContent) take their schema from it,
// so the documented struct and the accepted body cannot differ.
func ImpliedSchema(target any) *hcl.BodySchema {
	rv := reflect.ValueOf(target)
	schema, _ := gohcl.ImpliedBodySchema(target)
	requireExpressions(schema, reflect.Indirect(rv).Type())
	return schema
}

// recordField adds the strings held by a decoded field (a string, or a
// list or map of them) to set.
func recordField(fv reflect.Value, set *secret.Set) {
	switch fv.Kind() {
	case reflect.String:
		set.Add(fv.String())
	case reflect.Pointer:
		if !fv.IsNil() {
			recordField(fv.Elem(), set)
		}
	case reflect.Slice:
		for i := 0; i < fv.Len(); i++ {
			recordField(fv.Index(i), set)
		}
	case reflect.Map:
		for it := fv.MapRange(); it.Next(); {
			recordField(it.Value(), set)
		}
	}
}
