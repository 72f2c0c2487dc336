package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/plan"
)

// These tests cover the harness's pure parts (formatting, judging targets,
// JSON, generated inputs). They start no server and measure nothing, so
// `make test` stays fast; the measurements run only through `make bench`.

func TestFloatJSONRoundTrip(t *testing.T) {
	for _, v := range []float64{0, 1.5, -3, 1e-9, 12345.678, math.Inf(1), math.Inf(-1), math.NaN()} {
		b, err := json.Marshal(Float(v))
		if err != nil {
			t.Fatalf("marshal %v: %v", v, err)
		}
		var back Float
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if math.IsNaN(v) {
			if !math.IsNaN(float64(back)) {
				t.Errorf("NaN came back as %v", back)
			}
			continue
		}
		if float64(back) != v {
			t.Errorf("%v came back as %v (via %s)", v, back, b)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"lots"`), &f); err == nil {
		t.Error(`"lots" was accepted as a number`)
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		value, limit float64
		op, want     string
	}{
		{12, 10, AtLeast, Pass},
		{10, 10, AtLeast, Pass},
		{9.99, 10, AtLeast, Miss},
		{math.Inf(1), 10, AtLeast, Pass},
		{math.NaN(), 10, AtLeast, Miss},
		{1.5, 2, AtMost, Pass},
		{2, 2, AtMost, Pass},
		{2.01, 2, AtMost, Miss},
		{math.NaN(), 2, AtMost, Miss},
		{1, 2, "?", Miss},
	} {
		tg := Target{Value: Float(tc.value), Limit: Float(tc.limit), Op: tc.op}
		tg.Judge()
		if tg.Status != tc.want {
			t.Errorf("%v %s %v: %s, want %s", tc.value, tc.op, tc.limit, tg.Status, tc.want)
		}
	}
}

func TestRatioAndRate(t *testing.T) {
	if r := Ratio(10, 2); r != 5 {
		t.Errorf("Ratio(10, 2) = %v", r)
	}
	if r := Ratio(10, 0); !math.IsNaN(r) {
		t.Errorf("Ratio(10, 0) = %v, want NaN: a ratio over a tool that did not complete the work is no ratio, never +Inf", r)
	}
	if r := Ratio(0, 0); !math.IsNaN(r) {
		t.Errorf("Ratio(0, 0) = %v, want NaN", r)
	}
	if r := Rate(500, 250*time.Millisecond); r != 2000 {
		t.Errorf("Rate = %v, want 2000", r)
	}
	if r := Rate(5, 0); r != 0 {
		t.Errorf("Rate over 0s = %v, want 0", r)
	}
}

func TestMedianPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	in := ms(5, 1, 3)
	if m := Median(in); m != 3*time.Millisecond {
		t.Errorf("median %v", m)
	}
	if in[0] != 5*time.Millisecond {
		t.Error("Median sorted its input")
	}
	if m := Median(ms(4, 1, 3, 2)); m != 2500*time.Microsecond {
		t.Errorf("even median %v", m)
	}
	if m := Median(nil); m != 0 {
		t.Errorf("median of nothing %v", m)
	}
	d := ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
	for p, want := range map[float64]int{0: 10, 50: 50, 90: 90, 100: 100} {
		if got := Percentile(d, p); got != time.Duration(want)*time.Millisecond {
			t.Errorf("p%v = %v, want %dms", p, got, want)
		}
	}
}

func TestParseOnly(t *testing.T) {
	got, err := ParseOnly("memory, migrate")
	if err != nil || strings.Join(got, ",") != "migrate,memory" {
		t.Errorf("ParseOnly = %v, %v; want run order migrate,memory", got, err)
	}
	if got, _ := ParseOnly(""); len(got) != len(allSections) {
		t.Errorf("empty -only runs %v", got)
	}
	if _, err := ParseOnly("migrate,speed"); err == nil || !strings.Contains(err.Error(), "speed") {
		t.Errorf("unknown section: %v", err)
	}
	if _, err := ParseOnly(" , "); err == nil {
		t.Error("-only naming nothing was accepted")
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.4567: "0.457", 3.14159: "3.14", 123.45: "123.5", 12345.6: "12346",
		math.Inf(1): "inf", -1.5: "-1.50"} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
	if got := FormatValue(math.NaN()); got != "-" {
		t.Errorf("NaN prints %q", got)
	}
}

func sampleReport() *Report {
	r := &Report{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Mode: "full", Only: append([]string(nil), allSections...),
		Host: map[string]any{"go": "go1.26", "cpus": 2}, TotalSeconds: 75}
	r.Add(Metric{Section: "migrate", Name: "cutover migrate_keys", Value: 1234.6, Unit: "keys/s", Detail: "10000/10000"})
	r.Add(Metric{Section: "migrate", Name: "kes migrate", Value: 0, Unit: "keys/s", Detail: "copied 1025"})
	r.AddTarget(Target{Section: "migrate", Name: "migrate_keys vs kes migrate", Value: Float(Ratio(1234.5, 102)), Op: AtLeast, Limit: 10, Unit: "x"})
	r.AddTarget(Target{Section: "engine", Name: "checkpoint Save per step (median)", Value: 2.5, Op: AtMost, Limit: 2, Unit: "ms"})
	r.MarkTargets("memory", NoRun, "section not selected (-only)")
	r.MarkTargets("downtime", Error, "section failed")
	r.Sections = []SectionResult{{Name: "migrate", Status: "ok", ForeignShare: 0.31}, {Name: "engine", Status: "ok", ForeignShare: 0.02},
		{Name: "downtime", Status: "error", Error: "minio did not start", Seconds: 3}}
	r.Note("a note")
	return r
}

func TestFormatTable(t *testing.T) {
	out := FormatTable(sampleReport())
	for _, want := range []string{
		"cutover bench (full mode) started 2026-01-02T03:04:05Z, 75.0s total",
		"SECTION  MEASUREMENT", "cutover migrate_keys", "1235", "keys/s",
		"PASS", "12.10 x", ">= 10 x", "MISS", "2.50 ms", "<= 2 ms",
		"not run (-only): peak RSS of migrate_keys at 100k keys",
		"ERROR", "section downtime FAILED after 3.0s: minio did not start",
		"- a note",
		"WARNING: other processes used the CPUs during: migrate 31% (share",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "engine 2%") {
		t.Error("a quiet section is in the warning")
	}
	// columns line up: every target row starts its TARGET column at the same offset
	var offsets []int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "PASS ") || strings.HasPrefix(line, "MISS ") || strings.HasPrefix(line, "RESULT ") {
			offsets = append(offsets, strings.Index(line, strings.Fields(line)[2]))
		}
	}
	for _, o := range offsets[1:] {
		if o != offsets[0] {
			t.Errorf("target rows are not aligned:\n%s", out)
			break
		}
	}
}

func TestMarkTargets(t *testing.T) {
	r := &Report{}
	r.AddTarget(Target{Section: "engine", Name: "x", Value: 1, Op: AtMost, Limit: 2})
	r.MarkTargets("engine", Error, "failed") // the section recorded its own: keep them
	if len(r.Targets) != 1 || r.Targets[0].Status != Pass {
		t.Errorf("MarkTargets replaced a recorded target: %+v", r.Targets)
	}
	r.MarkTargets("validate", NoRun, "skipped")
	if len(r.Targets) != 1+len(declaredTargets["validate"]) {
		t.Fatalf("%d targets", len(r.Targets))
	}
	if tg := r.Targets[1]; tg.Status != NoRun || tg.Section != "validate" || !math.IsNaN(float64(tg.Value)) {
		t.Errorf("placeholder %+v", tg)
	}
	for _, s := range allSections {
		if len(declaredTargets[s]) == 0 {
			t.Errorf("section %s declares no target", s)
		}
	}
}

func TestWriteReadJSON(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport()
	paths, err := WriteJSON(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(paths[0]) != "20260102T030405Z.json" || filepath.Base(paths[1]) != "latest.json" {
		t.Errorf("paths %v", paths)
	}
	back, err := ReadJSON(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Targets) != len(r.Targets) || back.Targets[0].Value != r.Targets[0].Value || back.Targets[1].Status != Miss {
		t.Errorf("targets came back as %+v", back.Targets)
	}
	if back.Metrics[0].Value != 1234.6 || back.Notes[0] != "a note" {
		t.Errorf("report came back as %+v", back)
	}
	// a smoke run never replaces latest.json
	q := sampleReport()
	q.Mode, q.Only = "quick", []string{"engine"}
	paths, err = WriteJSON(dir, q)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(paths[1]) != "latest-quick-engine.json" || filepath.Base(paths[0]) != "20260102T030405Z-quick-engine.json" {
		t.Errorf("quick paths %v", paths)
	}
	full, err := ReadJSON(filepath.Join(dir, "latest.json"))
	if err != nil || full.Mode != "full" {
		t.Errorf("latest.json was replaced: %v %v", full, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("%d files in the results directory, want 4 (no temp files left)", len(entries))
	}
}

func TestKESMigrateOutput(t *testing.T) {
	out := "Starting key migration:\n\nMigrated   1000 keys ...\nMigrated   1025 keys successfully!\n"
	m := kesMigrated.FindStringSubmatch(out)
	if m == nil || m[1] != "1025" {
		t.Errorf("parsed %v", m)
	}
	if kesMigrated.MatchString("Migrated   1000 keys ...") {
		t.Error("a progress line was taken for success")
	}
}

func TestMigrateRate(t *testing.T) {
	full := &migrateResult{wall: 2 * time.Second, copied: 1000, success: true, extra: map[string]Float{}}
	if r := migrateRate(full, 1000); r != 500 {
		t.Errorf("rate %v", r)
	}
	partial := &migrateResult{wall: time.Second, copied: 1025, success: true, extra: map[string]Float{}}
	if r := migrateRate(partial, 10000); r != 0 {
		t.Errorf("a tool that copied 1025 of 10000 keys gets %v keys/s, want 0", r)
	}
	failed := &migrateResult{wall: time.Second, copied: 1000, success: false, extra: map[string]Float{}}
	if r := migrateRate(failed, 1000); r != 0 {
		t.Errorf("a failed tool gets %v keys/s", r)
	}
	slow := &migrateResult{wall: 4 * time.Second, copied: 1000, success: true, extra: map[string]Float{"cpu_vault_s": 9}}
	full.extra["cpu_vault_s"] = 3
	best := bestOf([]*migrateResult{slow, full}, 1000)
	if best != full || best.extra["rate_round_1"] != 250 || best.extra["rate_round_2"] != 500 {
		t.Errorf("bestOf picked %+v", best)
	}
	if best.extra["cpu_vault_s"] != 3 {
		t.Errorf("the best round reports another round's CPU: %v", best.extra)
	}
}

func TestVarsFor(t *testing.T) {
	src := "variable \"a\" {}\nvariable \"b_c\" {\n  default = 1\n}\n  variable \"indented\" {}\n"
	got := varsFor(src, map[string]string{"a": "1", "b_c": "[\"x\"]", "unused": "z", "indented": "no"})
	if strings.Join(got, " ") != `a=1 b_c=["x"]` {
		t.Errorf("varsFor = %q", got)
	}
	if l := hclList("a", `b"c`); l != `["a", "b\"c"]` {
		t.Errorf("hclList = %s", l)
	}
}

func TestGeneratedPlanLoads(t *testing.T) {
	src := generatePlan(40)
	path := filepath.Join(t.TempDir(), "large.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, diags := plan.Load(path, plan.Options{Validating: true, Environ: []string{}})
	if diags.HasErrors() {
		t.Fatalf("generated plan: %s", diags.Error())
	}
	if len(p.Steps) != 40 {
		t.Errorf("%d steps, want 40", len(p.Steps))
	}
	types := map[string]bool{}
	for _, s := range p.Steps {
		types[strings.SplitN(s.ID, ".", 2)[0]] = true
	}
	if len(types) < 10 {
		t.Errorf("only %d step types: %v", len(types), types)
	}
}

func TestRealisticState(t *testing.T) {
	st := realisticState()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Steps) != 10 || len(b) < 3000 {
		t.Errorf("state of %d steps, %d bytes: not the realistic size", len(st.Steps), len(b))
	}
}

func TestFormatMarkdown(t *testing.T) {
	r := sampleReport()
	r.Host["loadavg_start"], r.Host["loadavg_end"], r.Host["kernel"], r.Host["mem_total_kb"] = "31.2 28.0 22.5", "29.0 28.1 23.0", "6.18", "24684084"
	out := FormatMarkdown(r, "20260102T030405Z.json")
	for _, want := range []string{
		"one `make bench` run (full mode, 75.0s), started 2026-01-02 03:04 UTC, `bench/results/20260102T030405Z.json`: 2 CPUs, 24 GiB RAM, Linux 6.18, go1.26",
		"Load average (1, 5, 15 min) 31.2 28.0 22.5 at the start, 29.0 28.1 23.0 at the end",
		"migrate 31%", "shared and busy",
		"| migrate_keys vs kes migrate | 12.10 x | >= 10 x | PASS |",
		"Every measurement behind these (2 rows",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "peak RSS of migrate_keys at 100k keys") {
		t.Error("a target of a section not run is in the table")
	}
}

func TestRoundOrderAlternates(t *testing.T) {
	if got := fmt.Sprint(roundOrder([]int{10, 100, 1000}, 0), roundOrder([]int{10, 100, 1000}, 1)); got != "[10 100 1000] [1000 100 10]" {
		t.Errorf("round orders %s", got)
	}
	if m := medianFloat([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := medianFloat([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median %v", m)
	}
}
