package layout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// row is one row of the layer table: its patterns, its number from the top
// (1 for the first; -1 for test and tool code) and whether its packages may import each other.
type row struct {
	index    int
	patterns []string
	siblings bool
	line     int // in docs/ARCHITECTURE.md
}

// table is the layer table of docs/ARCHITECTURE.md.
type table struct{ rows []row }

const (
	fence      = "```layers"
	toolsLine  = "test and tool code:"
	eachOther  = "(may import each other)"
	docRelPath = "docs/ARCHITECTURE.md"
)

// parseTable reads the ```layers block of the architecture document.
func parseTable(doc []byte) (table, error) {
	var t table
	in, tools, index := false, false, 1
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in:
			in = line == fence
		case line == "```":
			return t, nil
		case line == toolsLine:
			tools = true
		case line != "":
			r := row{index: index, line: n, siblings: strings.Contains(line, eachOther)}
			if tools {
				r.index = -1
			} else {
				index++
			}
			line, _, _ = strings.Cut(line, "(")
			r.patterns = strings.Fields(line)
			t.rows = append(t.rows, r)
		}
	}
	return t, fmt.Errorf("no %s block closed in %s", fence, docRelPath)
}

// match reports whether pattern places pkg, and how specifically: an exact
// path beats any wildcard, then the longer literal prefix, then "*" (one
// element) beats "/..." (any depth).
func match(pattern, pkg string) (score int, ok bool) {
	switch {
	case pattern == pkg:
		return 1 << 20, true
	case strings.HasSuffix(pattern, "/*"):
		dir := strings.TrimSuffix(pattern, "*")
		rest, found := strings.CutPrefix(pkg, dir)
		return 2*len(dir) + 1, found && rest != "" && !strings.Contains(rest, "/")
	case strings.HasSuffix(pattern, "/..."):
		dir := strings.TrimSuffix(pattern, "...")
		return 2 * len(dir), strings.HasPrefix(pkg, dir) && len(pkg) > len(dir)
	}
	return 0, false
}

// place finds the row of pkg (a path relative to the module).
func (t table) place(pkg string) (row, bool) {
	best, found, bestScore := row{}, false, -1
	for _, r := range t.rows {
		for _, p := range r.patterns {
			if s, ok := match(p, pkg); ok && s > bestScore {
				best, found, bestScore = r, true, s
			}
		}
	}
	return best, found
}

// pkgInfo is what go list says of one package.
type pkgInfo struct {
	ImportPath string
	Imports    []string
	Module     *struct{ Path string }
}

// modulePackages lists the module's packages with their imports (test files
// left out) by `go list -deps -json ./...` at the module root.
func modulePackages(t *testing.T, root string) (module string, pkgs []pkgInfo) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	module = strings.TrimSpace(string(out))
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Module != nil && p.Module.Path == module {
			pkgs = append(pkgs, p)
		}
	}
	return module, pkgs
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// violations checks every import of every package against the table.
func violations(t table, module string, pkgs []pkgInfo) []string {
	rel := func(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }
	var bad []string
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		fr, ok := t.place(from)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is in no row of the layer table (%s): add it to the row where it belongs", from, docRelPath))
			continue
		}
		if fr.index < 0 {
			continue // test and tool code may import anything
		}
		for _, imp := range p.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := rel(imp)
			tr, ok := t.place(to)
			switch {
			case !ok:
				continue // reported as unplaced on its own
			case tr.index < 0:
				bad = append(bad, fmt.Sprintf("%s imports %s: product code never imports test or tool code (only its _test.go files may)", from, to))
			case tr.index < fr.index || (tr.index == fr.index && !fr.siblings):
				bad = append(bad, fmt.Sprintf("%s (row %d, %s:%d) imports %s (row %d, %s:%d): imports only go down",
					from, fr.index, docRelPath, fr.line, to, tr.index, docRelPath, tr.line))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// TestImportsOnlyGoDown is the rule of docs/ARCHITECTURE.md: every package
// of the module is placed in the layer table, imports only packages of rows
// below its own, and never test or tool code outside its _test.go files.
func TestImportsOnlyGoDown(t *testing.T) {
	root := moduleRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, docRelPath))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := parseTable(doc)
	if err != nil {
		t.Fatal(err)
	}
	module, pkgs := modulePackages(t, root)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages of %s: too few, the listing is broken", len(pkgs), module)
	}
	for _, v := range violations(tab, module, pkgs) {
		t.Error(v)
	}
}

// TestRuleCatches: the checker, on the real table, reports each kind of
// import this layout removed (a helper importing steps, a step type
// importing another, the engine's callback package above it), a product
// package importing test code, and a package no row places; it accepts
// the imports the layout allows.
func TestRuleCatches(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(moduleRoot(t), docRelPath))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := parseTable(doc)
	if err != nil {
		t.Fatal(err)
	}
	const m = "example.com/m"
	pkg := func(path string, imports ...string) pkgInfo {
		p := pkgInfo{ImportPath: m + "/" + path}
		for _, i := range imports {
			p.Imports = append(p.Imports, m+"/"+i)
		}
		return p
	}
	for _, c := range []struct {
		pkg  pkgInfo
		want string // "" when allowed
	}{
		{pkg("internal/event", "steps"), "internal/event (row "},
		{pkg("internal/keyops", "providers"), "imports providers (row "},
		{pkg("steps/restart", "steps/execstep"), "imports steps/execstep (row "},
		{pkg("rollback", "engine"), "imports engine (row 3, docs/ARCHITECTURE.md:"},
		{pkg("plan", "engine"), "plan (row "},
		{pkg("engine", "internal/testing/testenv"), "engine imports internal/testing/testenv: product code never imports test or tool code"},
		{pkg("cmd/cutover", "bench"), "product code never imports test or tool code"},
		{pkg("engine/deep/er", "internal/cli"), "imports only go down"},
		{pkg("internal/cli", "engine", "engine/event", "steps/all", "providers/keyops", "internal/secret"), ""},
		{pkg("steps/restart", "steps/internal/stepcmd", "steps", "providers/minio", "internal/command"), ""},
		{pkg("providers/kes", "providers/keskey", "providers", "checkpoint", "internal/httpx"), ""},
		{pkg("internal/hcldecode", "internal/secret"), ""},
		{pkg("internal/testing/plantest", "engine", "steps/all", "internal/testing/testenv"), ""},
		{pkg("cmd/awsemu", "internal/testing/awsemu"), ""},
	} {
		got := strings.Join(violations(tab, m, []pkgInfo{c.pkg}), "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s importing %v: got %q, want %q", c.pkg.ImportPath, c.pkg.Imports, got, c.want)
		}
	}
}
