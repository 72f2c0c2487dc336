package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/steps"
)

// TestReferenceUpToDate fails while docs/reference.md is not what the code
// generates: an attribute was added, renamed or re-described without
// `make reference`.
func TestReferenceUpToDate(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	path := filepath.Join("..", "..", Path)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v\nrun `make reference` to create it", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (first difference at line %d): run `make reference` and commit the result", Path, firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestEveryRegistrationDocumented: every step type and backend registers
// its Config and Doc, and every field of every Config has a description.
func TestEveryRegistrationDocumented(t *testing.T) {
	if _, err := Generate(); err != nil {
		t.Fatal(err)
	}
}

// TestUndocumentedFieldFails: a field without a doc tag makes the
// generator fail, naming it.
func TestUndocumentedFieldFails(t *testing.T) {
	type block struct {
		Documented string `hcl:"documented" doc:"Something."`
		Forgotten  string `hcl:"forgotten,optional"`
	}
	g := &gen{}
	g.schema("test block", &block{})
	if len(g.problems) != 1 || !strings.Contains(g.problems[0], `("forgotten") has no doc tag`) {
		t.Fatalf("problems = %q, want one naming forgotten", g.problems)
	}
}

// documented is one registered Config and the decoder that uses it.
type documented struct {
	name   string
	config any
	decode func(hcl.Body, *hcldecode.Context) hcl.Diagnostics
}

func registered() []documented {
	var out []documented
	for _, n := range steps.Names() {
		st, _ := steps.Lookup(n)
		out = append(out, documented{"step " + n, st.Config, func(b hcl.Body, dc *hcldecode.Context) hcl.Diagnostics {
			_, d := st.Decode(b, dc)
			return d
		}})
	}
	for _, k := range providers.Kinds {
		types := []string{""}
		if k.Typed {
			types = providers.Types(k.Name)
		}
		for _, typ := range types {
			bk, _ := providers.Lookup(k.Name, typ)
			out = append(out, documented{strings.TrimSpace(k.Name + " " + typ), bk.Config, func(b hcl.Body, dc *hcldecode.Context) hcl.Diagnostics {
				_, d := bk.Decode("x", b, dc)
				return d
			}})
		}
	}
	return out
}

func decodeSrc(t *testing.T, d documented, src string, secrets *secret.Set) hcl.Diagnostics {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: parse %q: %s", d.name, src, diags.Error())
	}
	dc := &hcldecode.Context{Eval: &hcl.EvalContext{}, Secrets: secrets, BaseDir: t.TempDir(), Validating: true,
		Resolve: func(string, hcl.Traversal) (any, bool) { return nil, false }}
	return d.decode(f.Body, dc)
}

var missingArg = regexp.MustCompile(`The argument "([a-z_0-9]+)" is required`)

// TestDocumentedMatchesDecoder: what the reference documents is what each
// decoder accepts. An empty body is refused for exactly the attributes
// documented as required; a body setting every documented attribute (to
// null) and block (empty) draws no "unsupported" diagnostic.
func TestDocumentedMatchesDecoder(t *testing.T) {
	for _, d := range registered() {
		b, err := hcldecode.Describe(d.config)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		var required, missing []string
		for _, a := range b.Attrs {
			if a.Required {
				required = append(required, a.Name)
			}
		}
		for _, diag := range decodeSrc(t, d, "", &secret.Set{}) {
			if m := missingArg.FindStringSubmatch(diag.Detail); m != nil {
				missing = append(missing, m[1])
			}
		}
		sort.Strings(required)
		sort.Strings(missing)
		if strings.Join(required, ",") != strings.Join(missing, ",") {
			t.Errorf("%s: documented as required %q, but an empty body is refused for %q", d.name, required, missing)
		}
		var src strings.Builder
		for _, a := range b.Attrs {
			fmt.Fprintf(&src, "%s = null\n", a.Name)
		}
		for _, nb := range b.Blocks {
			fmt.Fprintf(&src, "%s {}\n", nb.Name)
		}
		for _, diag := range decodeSrc(t, d, src.String(), &secret.Set{}) {
			if strings.HasPrefix(diag.Summary, "Unsupported") {
				t.Errorf("%s: a documented attribute or block is not accepted: %s: %s", d.name, diag.Summary, diag.Detail)
			}
		}
	}
}

// TestSensitiveAttributesMasked: an attribute documented as sensitive is
// recorded in the plan's secret set when decoded from a plain literal.
func TestSensitiveAttributesMasked(t *testing.T) {
	n := 0
	for _, d := range registered() {
		b, _ := hcldecode.Describe(d.config)
		check := func(attrs []hcldecode.Attr, wrap func(string) string) {
			for _, a := range attrs {
				if !a.Sensitive {
					continue
				}
				n++
				value := "s3cr3t-" + a.Name + "-value"
				secrets := &secret.Set{}
				decodeSrc(t, d, wrap(fmt.Sprintf("%s = %q\n", a.Name, value)), secrets)
				if got := secrets.Redact("x " + value + " y"); strings.Contains(got, value) {
					t.Errorf("%s: %s is documented as sensitive but its value is not masked: %q", d.name, a.Name, got)
				}
			}
		}
		check(b.Attrs, func(s string) string { return s })
		for _, nb := range b.Blocks {
			check(nb.Attrs, func(s string) string { return nb.Name + " {\n" + s + "}\n" })
		}
	}
	if n == 0 {
		t.Fatal("no sensitive attribute found: the test checks nothing")
	}
}
