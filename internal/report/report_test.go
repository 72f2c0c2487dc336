package report_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/report"
	"github.com/cutover/cutover/internal/testing/chromium"
)

// hostile is step output that tries to run a script, load an image and
// break out of an attribute.
const hostile = `<script>document.title="pwned"</script><img src="http://203.0.113.7/x.png">" onmouseover="x`

func sample() report.Report {
	t0 := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { t := t0.Add(time.Duration(ms) * time.Millisecond); return &t }
	return report.Report{
		Plan: "demo", RunID: "0123456789abcdef", Phase: "rolled_back", Rehearsal: true, StartedAt: t0,
		Window: 2 * time.Second, Margin: time.Second, WindowStart: at(10), DowntimeEnd: at(1800),
		Reason: "rehearsal: rolled back on purpose after resume.work",
		Bars: []report.Bar{
			{Label: "drain.work", Status: "done", Start: at(10), End: at(300), Attempts: 1, Summary: "paused"},
			{Label: "exec.migrate", Status: "done", Start: at(300), End: at(1200), Attempts: 1, Retries: 2, Summary: hostile, Details: []string{"count = 100000"}},
			{Label: "exec.check", Status: "failed", Start: at(1200), End: at(1700), Attempts: 1, Error: hostile},
			{Label: "resume.work", Status: "done", Start: at(1700), End: at(1800), Attempts: 1},
			{Label: "phase 1 undo exec.migrate", Rollback: true, Status: "done", Start: at(1800), End: at(2500), Attempts: 1},
			{Label: "phase 3 release drain.work", Rollback: true, Status: "done", Start: at(2500), End: at(2520), Attempts: 1},
		},
		InputArgs: []string{"-var-file", "/etc/staging.vars", "-var", "token=(sensitive)"},
		Variables: []report.Variable{{Name: "region", Value: "eu-west-1"}, {Name: "token", Value: "never-shown", Sensitive: true}},
		Generated: t0.Add(time.Hour),
	}
}

func write(t *testing.T, r report.Report) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := report.Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, buf.String()
}

// fetchRE is markup that makes a browser fetch something.
var fetchRE = regexp.MustCompile(`(?i)<(script|img|link|iframe|object|embed|audio|video|source|image|use)\b|<[^>]*\s(src|href|srcset|poster|data|action|formaction)=|url\(|@import|@font-face`)

var barRE = regexp.MustCompile(`<div class="bar (step|rollback) (\w+)" data-label="([^"]*)"`)

// Bars returns "kind status label" for each bar in a DOM.
func bars(dom string) []string {
	var out []string
	for _, m := range barRE.FindAllStringSubmatch(dom, -1) {
		out = append(out, m[1]+" "+m[2]+" "+m[3])
	}
	return out
}

// TestPageInChromium: the page loads in headless chromium at desktop and
// phone width with no request leaving the file, one bar per step and per
// rollback action with its label, the hostile step output shown as text
// (no script ran, no image loaded), the downtime shaded, the budget line
// drawn, retries and failures marked, and the sensitive input masked.
func TestPageInChromium(t *testing.T) {
	r := sample()
	path, html := write(t, r)
	if m := fetchRE.FindString(html); m != "" {
		t.Errorf("the page's source holds %q", m)
	}
	if strings.Contains(html, "never-shown") {
		t.Error("the page shows a sensitive value")
	}
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1200, 900}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			shot := filepath.Join(t.TempDir(), "shot.png")
			page := chromium.Open(t, path, chromium.Options{Width: size.w, Height: size.h, Screenshot: shot})
			if len(page.PageRequests()) > 0 {
				t.Errorf("the page sent requests: %q", page.PageRequests())
			}
			want := []string{"step done drain.work", "step done exec.migrate", "step failed exec.check", "step done resume.work",
				"rollback done phase 1 undo exec.migrate", "rollback done phase 3 release drain.work"}
			if got := bars(page.DOM); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("bars in the DOM:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if strings.Contains(page.DOM, "pwned") && !strings.Contains(page.DOM, "&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;") {
				t.Error("the hostile output is not shown as text")
			}
			if strings.Contains(page.DOM, "<title>pwned") || strings.Contains(page.DOM, "<img") || strings.Contains(page.DOM, "<script") {
				t.Error("the hostile output became markup")
			}
			for _, want := range []string{`<div class="down"`, `<div class="budget"`, `↻ 2 retries</span>`, `✗ failed`, `(sensitive)`, `eu-west-1`} {
				if !strings.Contains(page.DOM, want) {
					t.Errorf("the DOM lacks %s", want)
				}
			}
			f, err := os.Open(shot)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if b := img.Bounds(); b.Dx() != size.w {
				t.Errorf("screenshot %dx%d, want width %d", b.Dx(), b.Dy(), size.w)
			}
		})
	}
}

// TestBudgetOffTheScale: a window longer than the run puts the budget line
// at the right edge, marked off the scale.
func TestBudgetOffTheScale(t *testing.T) {
	r := sample()
	r.Window = time.Hour
	_, html := write(t, r)
	if !strings.Contains(html, `class="budget off" style="left:100.000%"`) || !strings.Contains(html, "off the scale") {
		t.Error("a budget beyond the last bar is not drawn at the right edge, marked off the scale")
	}
}
