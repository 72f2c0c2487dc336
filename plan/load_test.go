package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/plan"
	_ "github.com/cutover/cutover/steps/all"
)

// writeFiles writes name -> content under a new directory and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load writes src as plan.hcl (plus extra files) and loads it. Relative
// VarFiles in opts are taken relative to the plan's directory; a nil
// Environ means an empty environment, never the test process's.
func load(t *testing.T, src string, extra map[string]string, opts plan.Options) (*plan.Plan, hcl.Diagnostics) {
	t.Helper()
	files := map[string]string{"plan.hcl": src}
	for k, v := range extra {
		files[k] = v
	}
	dir := writeFiles(t, files)
	for i, f := range opts.VarFiles {
		opts.VarFiles[i] = filepath.Join(dir, f)
	}
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	return plan.Load(filepath.Join(dir, "plan.hcl"), opts)
}

func mustLoad(t *testing.T, src string, extra map[string]string, opts plan.Options) *plan.Plan {
	t.Helper()
	p, diags := load(t, src, extra, opts)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics:\n%s", diags.Error())
	}
	return p
}

// findDiag returns the first error whose summary contains summary.
func findDiag(t *testing.T, diags hcl.Diagnostics, summary string) *hcl.Diagnostic {
	t.Helper()
	for _, d := range diags {
		if d.Severity == hcl.DiagError && strings.Contains(d.Summary, summary) {
			return d
		}
	}
	t.Fatalf("no error %q among:\n%s", summary, diags.Error())
	return nil
}

// wantSubject checks that d points at line:col of the plan file.
func wantSubject(t *testing.T, d *hcl.Diagnostic, line, col int) {
	t.Helper()
	if d.Subject == nil {
		t.Fatalf("%s: no source range", d.Summary)
	}
	if filepath.Base(d.Subject.Filename) != "plan.hcl" || d.Subject.Start.Line != line || d.Subject.Start.Column != col {
		t.Errorf("%s: at %s, want plan.hcl:%d:%d", d.Summary, d.Subject, line, col)
	}
}

// eval evaluates an expression in the plan's context (var, local, ...).
func eval(t *testing.T, p *plan.Plan, src string) cty.Value {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := expr.Value(p.Eval)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", src, diags.Error())
	}
	return v
}

func variable(t *testing.T, p *plan.Plan, name string) *plan.Variable {
	t.Helper()
	for _, v := range p.Variables {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no variable %s", name)
	return nil
}

func TestVariablePrecedence(t *testing.T) {
	src := `
variable "only_default" { default = "default" }
variable "from_env"     { default = "default" }
variable "from_file"    { default = "default" }
variable "from_flag"    { default = "default" }
variable "later_file"   { default = "default" }
variable "later_flag"   { default = "default" }
`
	extra := map[string]string{
		"a.hcl": "from_file = \"file\"\nfrom_flag = \"file\"\nlater_file = \"a\"\n",
		"b.hcl": "later_file = \"b\"\n",
	}
	p := mustLoad(t, src, extra, plan.Options{
		Environ:  []string{"CUTOVER_VAR_from_env=env", "CUTOVER_VAR_from_file=env", "CUTOVER_VAR_from_flag=env"},
		VarFiles: []string{"a.hcl", "b.hcl"},
		Vars:     []string{"from_flag=flag", "later_flag=first", "later_flag=second"},
	})
	for name, want := range map[string]string{
		"only_default": "default", "from_env": "env", "from_file": "file", "from_flag": "flag",
		"later_file": "b", "later_flag": "second",
	} {
		if got := variable(t, p, name).Value; !got.RawEquals(cty.StringVal(want)) {
			t.Errorf("var.%s = %#v, want %q", name, got, want)
		}
	}
}

func TestVariableInputErrors(t *testing.T) {
	src := `
variable "count" {
  type = number
}
variable "token" {
  sensitive = true
  default   = "x"
}
`
	tests := []struct {
		name    string
		opts    plan.Options
		extra   map[string]string
		summary string
		detail  string
		line    int // of the Subject, 0 for none
	}{
		{name: "undeclared -var", opts: plan.Options{Vars: []string{"count=1", "nope=1"}},
			summary: "Value for undeclared variable", detail: `A value for "nope" was given by -var nope`},
		{name: "not a number", opts: plan.Options{Vars: []string{`count="many"`}},
			summary: "Invalid value for variable", detail: "not compatible with its type number", line: 2},
		{name: "malformed -var", opts: plan.Options{Vars: []string{"count=1", "count"}},
			summary: "Invalid -var option", detail: "characters, not shown) is not of the form NAME=VALUE"},
		{name: "missing required", opts: plan.Options{},
			summary: "No value for required variable", detail: "CUTOVER_VAR_count", line: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, src, tc.extra, tc.opts)
			d := findDiag(t, diags, tc.summary)
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", d.Detail, tc.detail)
			}
			if tc.line > 0 {
				wantSubject(t, d, tc.line, 1)
			}
		})
	}
}

// TestUndeclaredInputsThatAreNotErrors: a shared var file may set more than
// one plan uses (a warning), and a stray CUTOVER_VAR_ in the operator's shell
// is ignored, as Terraform ignores TF_VAR_.
func TestUndeclaredInputsThatAreNotErrors(t *testing.T) {
	src := "variable \"count\" {\n  type = number\n}\n"
	_, diags := load(t, src, map[string]string{"v.hcl": "nope = 1\n"}, plan.Options{
		Vars: []string{"count=1"}, VarFiles: []string{"v.hcl"}, Environ: []string{"CUTOVER_VAR_stray=1"},
	})
	if diags.HasErrors() {
		t.Fatalf("undeclared var-file or environment inputs are errors: %s", diags.Error())
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "v.hcl") {
		t.Fatalf("want one warning about v.hcl, got %v", diags)
	}
}

func TestVariableTypeConversion(t *testing.T) {
	src := `
variable "n"    { type = number }
variable "l"    { type = list(string) }
variable "m"    { type = map(number) }
variable "b"    { type = bool }
variable "s"    { type = string }
variable "file" { type = list(number) }
`
	p := mustLoad(t, src, map[string]string{"v.hcl": "file = [1, \"2\"]\n"}, plan.Options{
		Vars:     []string{"n=42", `l=["a", "b"]`, "m={ x = 1, y = 2 }", "b=true", "s=[not, parsed]"},
		VarFiles: []string{"v.hcl"},
	})
	want := map[string]cty.Value{
		"n":    cty.NumberIntVal(42),
		"l":    cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		"m":    cty.MapVal(map[string]cty.Value{"x": cty.NumberIntVal(1), "y": cty.NumberIntVal(2)}),
		"b":    cty.True,
		"s":    cty.StringVal("[not, parsed]"),
		"file": cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
	}
	for name, w := range want {
		if got := variable(t, p, name).Value; !got.RawEquals(w) {
			t.Errorf("var.%s = %#v, want %#v", name, got, w)
		}
	}
	if got := eval(t, p, "var.n + 1"); !got.RawEquals(cty.NumberIntVal(43)) {
		t.Errorf("var.n + 1 = %#v", got)
	}
}

func TestValidationBlocks(t *testing.T) {
	src := `
variable "region" {
  validation {
    condition     = length(regexall("^[a-z]+-[a-z]+-[0-9]$", var.region)) > 0
    error_message = "region must look like eu-west-1, not ${var.region}."
  }
}
`
	mustLoad(t, src, nil, plan.Options{Vars: []string{"region=eu-west-1"}})
	_, diags := load(t, src, nil, plan.Options{Vars: []string{"region=Europe"}})
	d := findDiag(t, diags, "Invalid value for variable")
	if !strings.Contains(d.Detail, "region must look like eu-west-1, not Europe.") || !strings.Contains(d.Detail, "validation rule at") {
		t.Errorf("detail %q", d.Detail)
	}
	wantSubject(t, d, 2, 1)

	// Under validation, a variable without a value is not checked.
	mustLoad(t, src, nil, plan.Options{Validating: true})
}

func TestSensitiveVariables(t *testing.T) {
	src := `
variable "api_key" { sensitive = true }
variable "region"  { default = "eu-west-1" }
step "exec" "use" {
  command = ["true", var.region]
  env     = { KEY = var.api_key }
}
`
	p := mustLoad(t, src, nil, plan.Options{Environ: []string{"CUTOVER_VAR_api_key=sk-live-0123456789"}})
	if !variable(t, p, "api_key").Sensitive || variable(t, p, "region").Sensitive {
		t.Error("sensitive flags wrong")
	}
	if got := p.Secrets.Redact("key sk-live-0123456789 in eu-west-1"); got != "key (sensitive) in eu-west-1" {
		t.Errorf("Redact = %q", got)
	}
	if v := eval(t, p, "var.api_key"); !v.HasMark(hcldecode.SensitiveMark) {
		t.Error("var.api_key is not marked sensitive in the evaluation context")
	}
	// The MAC of the inputs depends on the values and the key, and never
	// contains the secret.
	d1, d2 := p.InputsMAC([]byte("a")), p.InputsMAC([]byte("b"))
	if d1 == d2 || strings.Contains(d1, "sk-live") {
		t.Errorf("InputsMAC %s %s", d1, d2)
	}
	other := mustLoad(t, src, nil, plan.Options{Environ: []string{"CUTOVER_VAR_api_key=sk-live-0123456780"}})
	if other.InputsMAC([]byte("a")) == d1 {
		t.Error("InputsMAC does not change with a sensitive value")
	}
}

func TestLocals(t *testing.T) {
	src := `
locals {
  c = "${local.b}-c"
  a = "a"
}
locals {
  b = "${local.a}-b"
  n = length(local.list)
  list = [local.a, local.b, local.c]
}
`
	p := mustLoad(t, src, nil, plan.Options{})
	if got := eval(t, p, "local.c"); !got.RawEquals(cty.StringVal("a-b-c")) {
		t.Errorf("local.c = %#v", got)
	}
	if got := eval(t, p, "local.n"); !got.RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("local.n = %#v", got)
	}
}

func TestLocalsErrors(t *testing.T) {
	tests := []struct {
		name, src, summary, detail string
		line, col                  int
	}{
		{name: "cycle", summary: "Cycle in local values", detail: "local.x, local.y", line: 3, col: 3, src: `
locals {
  x = "${local.y}!"
  y = local.x
  ok = "fine"
}
`},
		{name: "self", summary: "Cycle in local values", detail: "local.me", line: 2, col: 10, src: `
locals { me = local.me }
`},
		{name: "duplicate", summary: `Duplicate local value "a"`, detail: "already defined at", line: 3, col: 10, src: `
locals { a = 1 }
locals { a = 2 }
`},
		{name: "undeclared", summary: "Unsupported attribute", detail: `"nope"`, line: 2, col: 19, src: `
locals { a = local.nope }
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, tc.src, nil, plan.Options{})
			d := findDiag(t, diags, tc.summary)
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", d.Detail, tc.detail)
			}
			wantSubject(t, d, tc.line, tc.col)
		})
	}
}

func TestEnvAndFileFunctions(t *testing.T) {
	src := `
locals {
  region   = env("REGION")
  password = env("DB_PASSWORD")
  key      = file("keys/kms.key")
  key64    = filebase64("keys/kms.key")
  public   = nonsensitive(file("keys/ops.pub"))
  stamp    = timestamp()
}
step "exec" "use" {
  command = ["true"]
  env     = { P = local.password, K = local.key }
}
`
	extra := map[string]string{"keys/kms.key": "kms-key-material-0001", "keys/ops.pub": "age1publickey"}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p := mustLoad(t, src, extra, plan.Options{
		Environ: []string{"REGION=eu-west-1", "DB_PASSWORD=hunter2-hunter2"},
		Now:     func() time.Time { return now },
	})
	tests := []struct {
		expr      string
		want      cty.Value
		sensitive bool
	}{
		{"local.region", cty.StringVal("eu-west-1"), false},
		{"local.password", cty.StringVal("hunter2-hunter2"), true},
		{"local.key", cty.StringVal("kms-key-material-0001"), true},
		{"local.key64", cty.StringVal("a21zLWtleS1tYXRlcmlhbC0wMDAx"), true},
		{"local.public", cty.StringVal("age1publickey"), false},
		{"local.stamp", cty.StringVal("2025-01-02T03:04:05Z"), false},
	}
	for _, tc := range tests {
		v := eval(t, p, tc.expr)
		if v.HasMark(hcldecode.SensitiveMark) != tc.sensitive {
			t.Errorf("%s sensitive = %v, want %v", tc.expr, !tc.sensitive, tc.sensitive)
		}
		if v, _ = v.Unmark(); !v.RawEquals(tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.expr, v, tc.want)
		}
	}
	// Sensitive values a step uses are masked everywhere.
	if got := p.Secrets.Redact("hunter2-hunter2 kms-key-material-0001 eu-west-1"); got != "(sensitive) (sensitive) eu-west-1" {
		t.Errorf("Redact = %q", got)
	}
}

func TestFunctionErrors(t *testing.T) {
	tests := []struct{ name, src, detail string }{
		{"unset env", `locals { x = env("NOPE") }`, "environment variable NOPE is not set"},
		{"missing file", `locals { x = file("missing.key") }`, "missing.key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, tc.src, nil, plan.Options{})
			d := findDiag(t, diags, "Error in function call")
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", d.Detail, tc.detail)
			}
			wantSubject(t, d, 1, 14)
		})
	}
}

func TestStepReferences(t *testing.T) {
	tests := []struct {
		name, src, summary, detail string
		line, col                  int
	}{
		{name: "forward reference", summary: "Reference to a later step", detail: "resume.traffic refers to step drain.traffic, which runs after it", line: 3, col: 11, src: `
step "resume" "traffic" {
  drain = step.drain.traffic
}
step "drain" "traffic" {
  pause_url  = "http://127.0.0.1:1/pause"
  resume_url = "http://127.0.0.1:1/resume"
}
`},
		{name: "self reference", summary: "Reference to a later step", detail: "itself", line: 4, col: 13, src: `
step "exec" "a" {
  command = ["true"]
  when    = step.exec.a.status == "done"
}
`},
		{name: "undeclared step", summary: "Reference to undeclared step", detail: "drain.nope", line: 2, col: 35, src: `
step "resume" "traffic" { drain = step.drain.nope }
`},
		{name: "point of no return to an unknown step", summary: "Reference to undeclared step", detail: "point_of_no_return refers to step resume.nope", line: 3, col: 24, src: `
cutover "x" {
  point_of_no_return = step.resume.nope
}
step "exec" "a" { command = ["true"] }
`},
		{name: "point of no return not a reference", summary: "Invalid reference", detail: "such as step.drain.traffic", line: 2, col: 36, src: `
cutover "x" { point_of_no_return = "exec.a" }
step "exec" "a" { command = ["true"] }
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, tc.src, nil, plan.Options{})
			d := findDiag(t, diags, tc.summary)
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", d.Detail, tc.detail)
			}
			wantSubject(t, d, tc.line, tc.col)
		})
	}
}

func TestCutoverBlock(t *testing.T) {
	p := mustLoad(t, `
cutover "migration" {
  window             = "1h30m"
  point_of_no_return = step.exec.b
  description        = "move keys"
}
step "exec" "a" { command = ["true"] }
step "exec" "b" {
  command        = ["true"]
  timeout        = "2m"
  retries        = 3
  retry_interval = "10s"
  rollback { command = ["echo", "undo"] }
}
step "exec" "c" {
  command = ["true"]
  when    = step.exec.b.status == "done"
  rollback { skip = true }
}
`, nil, plan.Options{})
	if p.Name != "migration" || p.Window != 90*time.Minute || p.PointOfNoReturn != "exec.b" || p.Description != "move keys" {
		t.Errorf("cutover block: name %q window %s ponr %q", p.Name, p.Window, p.PointOfNoReturn)
	}
	if len(p.Steps) != 3 || p.Index("exec.c") != 2 || p.Step("exec.nope") != nil {
		t.Fatalf("steps %d", len(p.Steps))
	}
	b, c := p.Step("exec.b"), p.Step("exec.c")
	if b.Timeout != 2*time.Minute || b.Retries != 3 || b.RetryInterval != 10*time.Second || b.Rollback == nil || strings.Join(b.Rollback.Command, " ") != "echo undo" {
		t.Errorf("exec.b common attributes: %+v", b)
	}
	if c.When == nil || c.Rollback == nil || !c.Rollback.Skip {
		t.Errorf("exec.c: when %v rollback %+v", c.When, c.Rollback)
	}
	if len(p.Hash) != 64 {
		t.Errorf("hash %q", p.Hash)
	}

	// Without a cutover block the plan is named after its file.
	if p := mustLoad(t, `step "exec" "a" { command = ["true"] }`, nil, plan.Options{}); p.Name != "plan" || p.Window != 0 {
		t.Errorf("unnamed plan: %q %s", p.Name, p.Window)
	}
}

func TestBlockErrors(t *testing.T) {
	tests := []struct {
		name, src, summary, detail string
		line, col                  int
	}{
		{name: "window not a duration", summary: "Invalid window", detail: `"thirty minutes" is not a duration`, line: 2, col: 24, src: `
cutover "x" { window = "thirty minutes" }
`},
		{name: "window not a string", summary: "Invalid window", detail: "duration string", line: 2, col: 24, src: `
cutover "x" { window = 30 }
`},
		{name: "duplicate cutover", summary: `Duplicate cutover block "y"`, detail: "already declared", line: 3, col: 1, src: `
cutover "x" {}
cutover "y" {}
`},
		{name: "duplicate variable", summary: `Duplicate variable "v"`, detail: "plan.hcl:2,1-13", line: 3, col: 1, src: `
variable "v" {}
variable "v" {}
`},
		{name: "duplicate step", summary: `Duplicate step "exec.a"`, detail: "already declared", line: 3, col: 1, src: `
step "exec" "a" { command = ["true"] }
step "exec" "a" { command = ["false"] }
`},
		{name: "duplicate kms name", summary: `Duplicate kms "local"`, detail: "already declared", line: 3, col: 1, src: `
kms "local" { type = "x" }
kms "local" { type = "x" }
`},
		{name: "unknown step type", summary: "Unknown step type", detail: `did you mean "restart"?`, line: 2, col: 6, src: `
step "restrat" "svc" { command = ["true"] }
`},
		{name: "unknown attribute", summary: "Unsupported argument", detail: `"colour"`, line: 4, col: 3, src: `
step "exec" "a" {
  command = ["true"]
  colour  = "blue"
}
`},
		{name: "wrong type", summary: "Incorrect attribute value type", detail: "list of string required", line: 2, col: 29, src: `
step "exec" "a" { command = 42 }
`},
		{name: "negative retries", summary: "Invalid retries", detail: "at least 0", line: 4, col: 13, src: `
step "exec" "a" {
  command = ["true"]
  retries = -1
}
`},
		{name: "when not a bool", summary: "Invalid when condition", detail: "true or false", line: 4, col: 13, src: `
step "exec" "a" {
  command = ["true"]
  when    = "yes"
}
`},
		{name: "two rollback blocks", summary: "Duplicate rollback block", detail: "at most one", line: 5, col: 3, src: `
step "exec" "a" {
  command = ["true"]
  rollback { skip = true }
  rollback { skip = true }
}
`},
		{name: "missing required reference", summary: "Missing required argument", detail: `"drain" is required`, line: 2, col: 19, src: `
step "resume" "r" {}
`},
		{name: "invalid step name", summary: "Invalid step name", detail: "not a valid step name", line: 2, col: 13, src: `
step "exec" "1st" { command = ["true"] }
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, tc.src, nil, plan.Options{})
			d := findDiag(t, diags, tc.summary)
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", d.Detail, tc.detail)
			}
			wantSubject(t, d, tc.line, tc.col)
		})
	}
}

// TestAllErrorsAtOnce checks that Load reports every problem, not only the first.
func TestAllErrorsAtOnce(t *testing.T) {
	_, diags := load(t, `
cutover "x" { window = "soon" }
step "exec" "a" { command = 42 }
step "restrat" "b" {}
locals {
  p = local.q
  q = local.p
}
`, nil, plan.Options{})
	for _, s := range []string{"Invalid window", "Incorrect attribute value type", "Unknown step type", "Cycle in local values"} {
		findDiag(t, diags, s)
	}
}

func TestLoadMissingFile(t *testing.T) {
	p, diags := plan.Load(filepath.Join(t.TempDir(), "nope.hcl"), plan.Options{Environ: []string{}})
	d := findDiag(t, diags, "Cannot read plan file")
	if !strings.Contains(d.Detail, "no such file") || p == nil {
		t.Errorf("detail %q, plan %v", d.Detail, p)
	}
}

// TestMaskingIsPrecise: a value that is not sensitive must not become a
// secret because it sits in the same attribute as a sensitive one. Masking
// every string of such an attribute hides ordinary words ("restart",
// "application/json", a region) in every output, step IDs included.
func TestMaskingIsPrecise(t *testing.T) {
	p := mustLoad(t, `
variable "token" { sensitive = true }
step "exec" "call" {
  command = ["curl", "--header", "Accept: application/json", var.token]
  env     = { TOKEN = var.token, REGION = "eu-west-1" }
}
step "health_check" "ready" {
  url     = "http://127.0.0.1:1/health"
  headers = { Authorization = "Bearer ${var.token}", Accept = "application/json" }
}
`, nil, plan.Options{Vars: []string{"token=tok-0123456789"}})
	text := "tok-0123456789 | Bearer tok-0123456789 | Accept: application/json | --header | eu-west-1"
	want := "(sensitive) | (sensitive) | Accept: application/json | --header | eu-west-1"
	if got := p.Secrets.Redact(text); got != want {
		t.Errorf("Redact(%q)\n = %q\nwant %q", text, got, want)
	}
}

// TestCoalesceAndUntypedRetries: coalesce skips empty strings as Terraform's
// does, and retries accepts a number given as an untyped -var.
func TestCoalesceAndUntypedRetries(t *testing.T) {
	p := mustLoad(t, `
variable "endpoint" { default = "" }
variable "tries" {}
locals {
  url = coalesce(var.endpoint, "https://kms.eu-west-1.amazonaws.com")
}
step "exec" "x" {
  command = ["true", local.url]
  retries = var.tries
}
`, nil, plan.Options{Vars: []string{"tries=3"}})
	if got := p.Eval.Variables["local"].GetAttr("url").AsString(); got != "https://kms.eu-west-1.amazonaws.com" {
		t.Errorf("coalesce(\"\", x) = %q", got)
	}
	if p.Steps[0].Retries != 3 {
		t.Errorf("retries = %d, want 3", p.Steps[0].Retries)
	}
}
