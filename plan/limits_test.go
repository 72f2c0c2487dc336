package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/plan"
)

const nestedTooDeeply = "Expression nested too deeply"

// TestDeepNestingIsADiagnostic: 100,000 nested parentheses overflowed the Go
// stack inside hcl's parser (a fatal error no recover catches); now they are
// a diagnostic at the parenthesis that passes the limit, and Load allocates a
// bounded amount on the way.
func TestDeepNestingIsADiagnostic(t *testing.T) {
	const n = 100000
	src := "locals {\n  x = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n}\n"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, diags := load(t, src, nil, plan.Options{})
	runtime.ReadMemStats(&after)
	d := findDiag(t, diags, nestedTooDeeply)
	// the file body and the locals block are two levels: the 256th "(" (at
	// column 7 + 255) is the 258th level
	wantSubject(t, d, 2, 7+plan.DefaultMaxDepth-1)
	if !strings.Contains(d.Detail, plan.EnvMaxDepth) {
		t.Errorf("detail does not say how to raise the limit: %s", d.Detail)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 128<<20 {
		t.Errorf("Load allocated %d MiB for a %d KiB plan, want at most 128 MiB", alloc>>20, len(src)>>10)
	}
}

// TestNestingKinds: every construct hcl's parser recurses on is counted, so
// none of them can overflow the stack; nesting under the limit loads.
func TestNestingKinds(t *testing.T) {
	const n = 50000
	deep := map[string]string{
		"brackets":     "[" + strings.Repeat("[", n) + strings.Repeat("]", n) + "]",
		"objects":      strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n),
		"calls":        strings.Repeat("max(", n) + "1" + strings.Repeat(")", n),
		"not":          strings.Repeat("!", n) + "true",
		"negation":     strings.Repeat("-", n) + "1",
		"conditionals": strings.Repeat("true ? 1 : ", n) + "2",
		"splats":       "[]" + strings.Repeat("[*]", n),
		"templates":    strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n),
		"directives":   `"` + strings.Repeat("%{ if true }", n/5) + "x" + strings.Repeat("%{ endif }", n/5) + `"`,
		"for":          strings.Repeat("[for a in [1] : ", n) + "1" + strings.Repeat("]", n),
	}
	for name, expr := range deep {
		t.Run(name, func(t *testing.T) {
			_, diags := load(t, "locals {\n  x = "+expr+"\n}\n", nil, plan.Options{})
			d := findDiag(t, diags, nestedTooDeeply)
			if d.Subject == nil || d.Subject.Start.Line != 2 {
				t.Errorf("subject %v, want line 2", d.Subject)
			}
		})
	}
	// 200 levels of each load: the limit leaves room for any real plan
	const ok = 200
	shallow := []string{
		strings.Repeat("(", ok) + "1" + strings.Repeat(")", ok),
		strings.Repeat("!", ok) + "true",
		strings.Repeat("true ? 1 : ", ok) + "2",
		strings.Repeat(`"${`, ok/2) + "1" + strings.Repeat(`}"`, ok/2),
	}
	for _, expr := range shallow {
		mustLoad(t, "locals {\n  x = "+expr+"\n}\n", nil, plan.Options{})
	}
}

// TestNestingLimitCounts: a long flat plan (many conditionals, negations and
// list items at one level) is not mistaken for a deep one, and the limit can
// be raised.
func TestNestingLimitCounts(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  a%d = %d > 0 ? -%d : !true ? 1 : 2\n", i, i, i)
	}
	b.WriteString("  l = [" + strings.Repeat("-1, ", 1000) + "]\n}\n")
	mustLoad(t, b.String(), nil, plan.Options{})

	expr := strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300)
	src := "locals {\n  x = " + expr + "\n}\n"
	findDiag(t, second(load(t, src, nil, plan.Options{})), nestedTooDeeply)
	mustLoad(t, src, nil, plan.Options{Environ: []string{plan.EnvMaxDepth + "=400"}})
	_, diags := load(t, src, nil, plan.Options{Environ: []string{plan.EnvMaxDepth + "=lots"}})
	findDiag(t, diags, "Invalid "+plan.EnvMaxDepth)
}

func second(_ *plan.Plan, d hcl.Diagnostics) hcl.Diagnostics { return d }

// TestNestingInJSONAndInputs: JSON plans and var files, and -var literals,
// are bounded the same way.
func TestNestingInJSONAndInputs(t *testing.T) {
	const n = 100000
	dir := writeFiles(t, map[string]string{
		"deep.json":  `{"locals": {"x": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`,
		"tmpl.json":  `{"locals": {"x": "${` + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + `}"}}`,
		"vars.hcl":   "v = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n",
		"plan.hcl":   "variable \"v\" { type = list(any) }\n",
		"plan2.json": `{"locals": {"x": "${upper(\"a\")}", "y": [[1], {"z": 2}]}}`,
	})
	for _, f := range []string{"deep.json", "tmpl.json"} {
		_, diags := plan.Load(filepath.Join(dir, f), plan.Options{Environ: []string{}})
		findDiag(t, diags, nestedTooDeeply)
	}
	if _, diags := plan.Load(filepath.Join(dir, "plan2.json"), plan.Options{Environ: []string{}}); diags.HasErrors() {
		t.Errorf("a shallow JSON plan: %s", diags.Error())
	}
	planPath := filepath.Join(dir, "plan.hcl")
	_, diags := plan.Load(planPath, plan.Options{Environ: []string{}, VarFiles: []string{filepath.Join(dir, "vars.hcl")}})
	d := findDiag(t, diags, nestedTooDeeply)
	if d.Subject == nil || filepath.Base(d.Subject.Filename) != "vars.hcl" {
		t.Errorf("subject %v, want in vars.hcl", d.Subject)
	}
	deepList := strings.Repeat("[", n) + strings.Repeat("]", n)
	_, diags = plan.Load(filepath.Join(dir, "plan.hcl"), plan.Options{Environ: []string{}, Vars: []string{"v=" + deepList}})
	findDiag(t, diags, nestedTooDeeply)
	_, diags = plan.Load(filepath.Join(dir, "plan.hcl"), plan.Options{Environ: []string{"CUTOVER_VAR_v=" + deepList}})
	findDiag(t, diags, nestedTooDeeply)
}

// TestFileSizeLimit: a plan or var file over the limit is refused at the
// position where the limit is passed, without reading the rest; the limit can
// be raised.
func TestFileSizeLimit(t *testing.T) {
	big := "locals {\n" + strings.Repeat("  # padding padding padding padding padding\n", plan.DefaultMaxFileBytes/44+1) + "}\n"
	_, diags := load(t, big, nil, plan.Options{})
	d := findDiag(t, diags, "Plan file too large")
	if d.Subject == nil || d.Subject.Start.Byte != plan.DefaultMaxFileBytes || d.Subject.Start.Line < 2 {
		t.Errorf("subject %v, want the position of byte %d", d.Subject, plan.DefaultMaxFileBytes)
	}
	if !strings.Contains(d.Detail, plan.EnvMaxFileBytes) {
		t.Errorf("detail does not say how to raise the limit: %s", d.Detail)
	}
	mustLoad(t, big, nil, plan.Options{Environ: []string{fmt.Sprintf("%s=%d", plan.EnvMaxFileBytes, 2*plan.DefaultMaxFileBytes)}})

	_, diags = load(t, "variable \"v\" {}\n", map[string]string{"big.hcl": "v = 1\n" + strings.Repeat("#\n", plan.DefaultMaxFileBytes)},
		plan.Options{VarFiles: []string{"big.hcl"}})
	findDiag(t, diags, "Variables file too large")

	// a device that never ends is read up to the limit, not forever
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, diags = plan.Load("/dev/zero", plan.Options{Environ: []string{}})
		findDiag(t, diags, "Plan file too large")
	}
}

// TestZeroWindowAndTimeoutAreErrors: "0s" would leave no time at all;
// leaving the attribute out is how a plan says "no limit".
func TestZeroWindowAndTimeoutAreErrors(t *testing.T) {
	_, diags := load(t, `cutover "z" {
  window = "0s"
}
step "exec" "a" {
  command        = ["true"]
  timeout        = "0m"
  retry_interval = "0s"
}
`, nil, plan.Options{})
	wantSubject(t, findDiag(t, diags, "Invalid window"), 2, 12)
	d := findDiag(t, diags, "Invalid timeout")
	wantSubject(t, d, 6, 20)
	if !strings.Contains(d.Detail, "leave timeout out for no limit") {
		t.Errorf("detail: %s", d.Detail)
	}
	if n := len(diags.Errs()); n != 2 {
		t.Errorf("%d errors, want 2 (retry_interval = \"0s\" is fine):\n%s", n, diags.Error())
	}
	p := mustLoad(t, "cutover \"z\" {}\nstep \"exec\" \"a\" { command = [\"true\"] }\n", nil, plan.Options{})
	if p.Window != 0 || p.Steps[0].Timeout != 0 {
		t.Errorf("left out: window %s, timeout %s; want 0 (no limit)", p.Window, p.Steps[0].Timeout)
	}
}
