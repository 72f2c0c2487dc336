package plan_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/plan"
)

// fuzzSeeds are representative plans, valid and broken.
var fuzzSeeds = []string{
	// valid: the shape of a real cutover
	`cutover "minio-to-kes" {
  window             = "30m"
  point_of_no_return = step.resume.traffic
}
variable "token" { sensitive = true }
variable "n" {
  type    = number
  default = 3
  validation {
    condition     = var.n > 0
    error_message = "n must be positive."
  }
}
locals {
  url = "http://127.0.0.1:9000"
  all = [local.url, "${local.url}/x"]
}
step "drain" "traffic" {
  pause_url  = "${local.url}/pause"
  resume_url = "${local.url}/resume"
}
step "env" "switch" {
  files = ["app.env"]
  set   = { KMS_PROVIDER = "AWS", TOKEN = var.token }
  unset = ["MINIO_KMS_SECRET_KEY"]
}
step "restart" "minio" {
  command = ["systemctl", "restart", "minio"]
  retries = 2
  retry_interval = "1s"
}
step "health_check" "ready" {
  url     = "${local.url}/minio/health/ready"
  timeout = "2m"
  when    = step.restart.minio.status == "done"
}
step "exec" "note" {
  command = ["sh", "-c", "echo done"]
  rollback { command = ["sh", "-c", "echo undone"] }
}
step "resume" "traffic" { drain = step.drain.traffic }
`,
	// unknown attribute and block
	`step "exec" "a" {
  command = ["true"]
  colour  = "blue"
  extra {}
}`,
	// bad types
	`cutover "x" { window = 30 }
step "exec" "a" { command = 42 }
step "exec" "b" {
  command = ["true"]
  retries = "many"
  when    = "yes"
}`,
	// cycle in locals
	`locals {
  a = local.b
  b = local.c
  c = local.a
}`,
	// forward and self step references
	`step "resume" "r" { drain = step.drain.d }
step "drain" "d" {
  pause_url  = "http://x/p"
  resume_url = "http://x/r"
  when = step.drain.d.status == "done"
}`,
	// duplicates
	`cutover "a" {}
cutover "b" {}
variable "v" {}
variable "v" {}
step "exec" "a" { command = ["true"] }
step "exec" "a" { command = ["true"] }
kms "k" { type = "x" }
kms "k" { type = "x" }
locals { x = 1 }
locals { x = 2 }`,
	// huge nesting
	"locals { x = " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + " }\n" +
		"locals { y = " + strings.Repeat("{a = ", 100) + "1" + strings.Repeat("}", 100) + " }",
	// deep nesting of each kind the parser recurses on (over the limit)
	"locals { x = " + strings.Repeat("(", 5000) + strings.Repeat(")", 5000) + " }",
	"locals { x = " + strings.Repeat("!", 5000) + "true }",
	"locals { x = " + strings.Repeat("true ? 1 : ", 2000) + "2 }",
	"locals { x = []" + strings.Repeat("[*]", 2000) + " }",
	"locals { x = " + strings.Repeat(`"${`, 2000) + "1" + strings.Repeat(`}"`, 2000) + " }",
	"locals { x = \"" + strings.Repeat("%{ if true }", 1000) + strings.Repeat("%{ endif }", 1000) + "\" }",
	strings.Repeat("a {\n", 3000) + strings.Repeat("}\n", 3000),
	// mismatched and unclosed brackets
	"locals { x = " + strings.Repeat("(]", 3000) + " }",
	"locals { x = " + strings.Repeat("([{", 1000),
	// syntax errors
	`step "exec" {`,
	`cutover "x" { window = "30 minutes" point_of_no_return = "step" }`,
	// functions and references to undeclared things
	`locals {
  a = file("nope.key")
  b = env("NOPE")
  c = var.undeclared
  d = kms.nope.id
  e = jsondecode("{")
  f = format("%d", "x")
}
step "env" "e" {
  files = []
  set   = ["not", "a", "map"]
}`,
	// templates, heredocs, for expressions, splats
	`locals {
  list = [for i in range(3) : "k${i}" if i != 1]
  map  = { for k in ["a", "b"] : k => upper(k) }
  doc  = <<-EOT
    hello ${join(",", local.list)}
    %{ for k, v in local.map }${k}=${v} %{ endfor }
  EOT
  splat = [{ a = 1 }, { a = 2 }][*].a
}
step "exec" "a" {
  command = [for s in local.list : s]
  when    = length(local.splat) == 2 ? true : null
}`,
	// invalid bytes and odd characters
	"step \"exec\" \"\xff\xfe\" { command = [\"\x00\"] }\r\nvariable \"\" {}\n",
	// point of no return forms
	`cutover "x" { point_of_no_return = step.exec }
cutover "y" { point_of_no_return = step.exec.a.b.c }
step "exec" "a" { command = ["true"] }`,
}

// FuzzLoad feeds arbitrary bytes to plan.Load as a plan file. Load must never
// panic, and every error diagnostic with a source range must point inside the
// plan file.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		p, diags := plan.Load(path, plan.Options{Validating: true, Environ: []string{}})
		if p == nil {
			t.Fatal("Load returned a nil plan")
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError || d.Subject == nil {
				continue
			}
			checkRange(t, d, *d.Subject, path, src)
		}
	})
}

func checkRange(t *testing.T, d *hcl.Diagnostic, r hcl.Range, path string, src []byte) {
	t.Helper()
	size := len(src)
	if r.Filename != path {
		t.Errorf("%q: subject in file %q, want the plan file %q", d.Summary, r.Filename, path)
	}
	s, e := r.Start, r.End
	if s.Byte < 0 || e.Byte > size || s.Byte > e.Byte {
		t.Errorf("%q: subject bytes %d-%d outside the file's %d bytes", d.Summary, s.Byte, e.Byte, size)
	}
	if s.Line < 1 || s.Column < 1 || e.Line < s.Line {
		t.Errorf("%q: subject position %d:%d-%d:%d is not a valid range", d.Summary, s.Line, s.Column, e.Line, e.Column)
	}
	if lines := bytes.Count(src, []byte("\n")) + 1; e.Line > lines {
		t.Errorf("%q: subject ends on line %d of a %d-line file", d.Summary, e.Line, lines)
	}
}

// nestLevel is one construct FuzzNesting nests: text before and after the
// inner expression, and the levels it adds.
type nestLevel struct {
	open, close string
	levels      int
}

var nestLevels = []nestLevel{
	{"(", ")", 1}, {"[", "]", 1}, {"{a = ", "}", 1}, {"max(", ")", 1}, {"!", "", 1}, {"-", "", 1},
	{"true ? ", " : 1", 1}, {`"${`, `}"`, 2}, {"[for a in b : ", "]", 1}, {`"%{ if true }${`, `}%{ endif }"`, 3},
}

// FuzzNesting nests the constructs hcl's parser recurses on, chosen by the
// input, inside a locals block. Load must never crash, and must report
// "Expression nested too deeply" exactly when the nesting (the locals block
// included) passes plan.DefaultMaxDepth.
func FuzzNesting(f *testing.F) {
	f.Add([]byte{0}, uint8(255))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(25))
	f.Add([]byte{6, 7}, uint8(100))
	f.Add([]byte{9}, uint8(85))
	f.Add([]byte{4, 5, 4}, uint8(86))
	dir := f.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	f.Fuzz(func(t *testing.T, choice []byte, repeat uint8) {
		if len(choice) == 0 || len(choice)*int(repeat) > 4000 {
			t.Skip()
		}
		var open, close strings.Builder
		depth := 1 // the locals block
		var closers []string
		for r := 0; r < int(repeat); r++ {
			for _, c := range choice {
				l := nestLevels[int(c)%len(nestLevels)]
				open.WriteString(l.open)
				closers = append(closers, l.close)
				depth += l.levels
			}
		}
		for i := len(closers) - 1; i >= 0; i-- {
			close.WriteString(closers[i])
		}
		src := "locals {\n  x = " + open.String() + "1" + close.String() + "\n}\n"
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, diags := plan.Load(path, plan.Options{Validating: true, Environ: []string{}})
		tooDeep := false
		for _, d := range diags {
			tooDeep = tooDeep || d.Summary == "Expression nested too deeply"
		}
		if want := depth > plan.DefaultMaxDepth; tooDeep != want {
			t.Errorf("%d levels: too deep reported %v, want %v\n%s", depth, tooDeep, want, diags.Error())
		}
	})
}
