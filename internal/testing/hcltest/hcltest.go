// Package hcltest holds helpers for tests of HCL block decoders.
//
// Backend tests decode one system block (kms or minio) as the plan loader
// does, with [Decode]; step tests load a whole plan with [LoadPlan]. Both
// check diagnostics with [WantDiag] or [WantDiagDetail].
package hcltest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"
)

// BaseDir is the plan directory of the contexts Context makes: relative
// paths in decoded blocks resolve below it.
const BaseDir = "/plans"

// Context returns a decode context with var.<name> set from vars (none when
// vars is nil), an empty secret set, BaseDir as the plan directory and
// Validating as given (true under `cutover validate`).
func Context(vars map[string]cty.Value, validating bool) *hcldecode.Context {
	if vars == nil {
		vars = map[string]cty.Value{}
	}
	return &hcldecode.Context{Eval: &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}},
		Secrets: &secret.Set{}, BaseDir: BaseDir, Validating: validating}
}

// Block parses src as plan.hcl and returns its first block of type kind,
// which has one label (the name). Parse errors fail the test.
func Block(t testing.TB, kind, src string) *hcl.Block {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "plan.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: kind, LabelNames: []string{"name"}}}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return content.Blocks[0]
}

// Decode decodes the first block of kind (providers.KindKMS or
// providers.KindMinIO) in src as the plan loader does: the backend is the
// one registered for the kind and, for a typed kind, the block's type
// attribute, which is removed before the backend's Decode sees the body.
// The context is Context(vars, validating); its secret set is returned.
func Decode(t testing.TB, kind, src string, vars map[string]cty.Value, validating bool) (any, hcl.Diagnostics, *secret.Set) {
	t.Helper()
	b := Block(t, kind, src)
	body, typ := b.Body, ""
	if typed(kind) {
		content, rest, _ := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "type", Required: true}}})
		attr, ok := content.Attributes["type"]
		if !ok {
			t.Fatalf("%s block without a type", kind)
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() || v.Type() != cty.String {
			t.Fatalf("%s block type is not a string: %v", kind, diags)
		}
		body, typ = rest, v.AsString()
	}
	backend, ok := providers.Lookup(kind, typ)
	if !ok {
		t.Fatalf("no %s backend %q registered", kind, typ)
	}
	dc := Context(vars, validating)
	obj, diags := backend.Decode(b.Labels[0], body, dc)
	return obj, diags, dc.Secrets
}

// typed reports whether blocks of kind choose their backend with `type`.
func typed(kind string) bool {
	for _, k := range providers.Kinds {
		if k.Name == kind {
			return k.Typed
		}
	}
	return false
}

// WantDiag checks that diags has errors and that the first diagnostic has
// summary and a subject starting on line.
func WantDiag(t testing.TB, diags hcl.Diagnostics, summary string, line int) {
	t.Helper()
	if !diags.HasErrors() {
		t.Errorf("no error, want %q on line %d", summary, line)
		return
	}
	d := diags[0]
	if d.Summary != summary || d.Subject == nil || d.Subject.Start.Line != line {
		t.Errorf("got %q at %v, want %q on line %d (%s)", d.Summary, d.Subject, summary, line, d.Detail)
	}
}

// find returns the first diagnostic with summary, or nil.
func find(diags hcl.Diagnostics, summary string) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Summary == summary {
			return d
		}
	}
	return nil
}

// WantDiagDetail checks that diags has a diagnostic with summary (failing
// the test now when it has none) whose detail contains detail and whose
// subject starts on line, and returns it.
func WantDiagDetail(t testing.TB, diags hcl.Diagnostics, summary, detail string, line int) *hcl.Diagnostic {
	t.Helper()
	d := find(diags, summary)
	if d == nil {
		t.Fatalf("no %q diagnostic in:\n%v", summary, diags)
	}
	if !strings.Contains(d.Detail, detail) || d.Subject == nil || d.Subject.Start.Line != line {
		t.Errorf("diagnostic %q at %v, want detail containing %q on line %d", d.Detail, d.Subject, detail, line)
	}
	return d
}

// LoadPlan writes src as plan.hcl in a temporary directory and loads it
// with an empty environment.
func LoadPlan(t testing.TB, src string) (*plan.Plan, hcl.Diagnostics) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return plan.Load(path, plan.Options{Environ: []string{}})
}

// MinIOPlanHeader starts a plan for step tests: a cutover block and
// minio.prod, in six lines, so a step block after it starts on line 7.
const MinIOPlanHeader = `cutover "t" {}
minio "prod" {
  endpoint   = "http://127.0.0.1:9000"
  access_key = "admin"
  secret_key = "secret-secret"
}
`
