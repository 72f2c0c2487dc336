package miniostatictokes_test

import (
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/cli"
	"github.com/cutover/cutover/internal/testing/chromium"
	ex "github.com/cutover/cutover/internal/testing/minioexamples"
)

// rehearse: `cutover rehearse --times 3` on the real servers runs the plan
// to its point of no return (resume.s3), rolls it back on purpose, three
// times, and prints the downtime's spread and the verdict; MinIO is back on
// its static key each time. A window shorter than the downtime measured
// fails the verdict with exit 1. The state directory is left in r.rehearsed
// for the report.
func (r *rig) rehearse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, ex.ReadFile(t, "plan.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := r.planVars("backup_overwrite", "true")
	args := append(append([]string{"rehearse", "--times", "3"}, vars.Flags()...), path)
	code, stdout, stderr := ex.Cutover(args...)
	t.Logf("cutover rehearse --times 3: exit %d\n%s%s", code, stdout, stderr)
	if code != cli.ExitOK {
		t.Fatalf("cutover rehearse --times 3 exited %d, want 0", code)
	}
	for _, want := range []string{
		`== rehearsal 3 of 3`,
		`rolling back: rehearsal: rolled back on purpose after resume.s3 \(the point of no return\)`,
		`ok    phase 1 undo    env.kms`,
		`ok    phase 4 cleanup migrate_keys.to_kes`,
		`downtime \(drain.s3 to resume.s3\): median [0-9.]+s, [0-9.]+s to [0-9.]+s \(spread [0-9.]+m?s\) over 3 rehearsals`,
		`rollback \(from after resume.s3\): median [0-9.]+s, .* over 3 rehearsals`,
		`verdict: fits: window 30m0s, margin 5m0s: worst downtime [0-9.]+s \+ worst rollback [0-9.]+s = [0-9.]+s, `,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("cutover rehearse printed no line matching %q", want)
		}
	}
	if n := strings.Count(stdout, "rolling back: rehearsal"); n != 3 {
		t.Errorf("%d rollbacks, want 3", n)
	}
	for _, secret := range []string{r.kes.APIKey, r.minio.SecretKey} {
		if strings.Contains(stdout+stderr, secret) {
			t.Error("cutover rehearse printed a secret")
		}
	}
	r.onStaticKey(t)
	r.rehearsed = filepath.Join(dir, ".cutover", "minio-static-to-kes")

	t.Run("report in chromium", func(t *testing.T) { r.reportInChromium(t, path, vars) })

	t.Run("a window shorter than the downtime fails the verdict", func(t *testing.T) {
		args := append(append([]string{"rehearse"}, r.planVars("backup_overwrite", "true", "window", "1s", "margin", "0s").Flags()...), path)
		code, stdout, stderr := ex.Cutover(args...)
		if code != cli.ExitFailed || !strings.Contains(stdout, "verdict: DOES NOT FIT: window 1s") ||
			!strings.Contains(stderr, "cutover: error: the rehearsals do not fit in the window: over by") {
			t.Fatalf("cutover rehearse with window 1s: exit %d, want %d and the verdict DOES NOT FIT\n%s%s", code, cli.ExitFailed, stdout, stderr)
		}
		r.onStaticKey(t)
	})
}

// barRE finds the report's bars in chromium's DOM.
var barRE = regexp.MustCompile(`<div class="bar (step|rollback) (\w+)" data-label="([^"]*)"`)

// reportInChromium: `cutover report` of the last rehearsal, opened in
// headless chromium, loads with no request leaving the file, and its DOM
// holds one bar per step and per rollback action, labelled as the
// checkpoint names them. With CUTOVER_UPDATE_DOCS=1 the screenshot replaces
// docs/report-rehearsal.png.
func (r *rig) reportInChromium(t *testing.T, path string, vars ex.Vars) {
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := ex.Cutover(append(append([]string{"report", "--out", out}, vars.Flags()...), path)...)
	if code != cli.ExitOK || !strings.Contains(stdout, "9 steps, 8 rollback actions") {
		t.Fatalf("cutover report: exit %d\n%s%s", code, stdout, stderr)
	}
	html := string(ex.ReadFile(t, out))
	for _, secret := range []string{r.kes.APIKey, r.minio.SecretKey, r.vault["vault_secret_id"]} {
		if strings.Contains(html, secret) {
			t.Error("the report shows a secret")
		}
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	page := chromium.Open(t, out, chromium.Options{Width: 1100, Height: 1100, Screenshot: shot})
	if reqs := page.PageRequests(); len(reqs) > 0 {
		t.Errorf("the report sent requests: %q", reqs)
	}
	st := loadState(t, filepath.Dir(path), "minio-static-to-kes")
	var want []string
	for _, s := range st.Steps {
		want = append(want, "step done "+s.ID)
	}
	for _, a := range st.Rollback.Actions {
		want = append(want, "rollback done phase "+string(rune('0'+a.Phase))+" "+string(a.Op)+" "+a.Step)
	}
	var got []string
	for _, m := range barRE.FindAllStringSubmatch(page.DOM, -1) {
		got = append(got, m[1]+" "+m[2]+" "+m[3])
	}
	if len(want) != 17 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bars in chromium's DOM:\n%s\nwant (9 steps, 8 rollback actions):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{`<div class="down"`, `<div class="budget off"`, "Rehearsal of minio-static-to-kes", "(sensitive)"} {
		if !strings.Contains(page.DOM, w) {
			t.Errorf("chromium's DOM lacks %s", w)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if os.Getenv("CUTOVER_UPDATE_DOCS") == "1" {
		_, _ = f.Seek(0, 0)
		dst, err := os.Create(filepath.Join("..", "..", "docs", "report-rehearsal.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		if _, err := io.Copy(dst, f); err != nil {
			t.Fatal(err)
		}
	}
}
