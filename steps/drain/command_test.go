package drain

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/internal/testing/steptest"
	"github.com/cutover/cutover/steps"
)

// The service the command drains are tested against is a few files in the
// plan's directory (where the commands run): pause.sh creates the flag
// file "paused", resume.sh removes it, inflight.sh prints the number in the
// file "count"; each appends what it did to "journal".
const (
	pauseScript    = `echo pausing; echo pause >> journal; touch paused`
	resumeScript   = `echo resume >> journal; rm -f paused`
	inflightScript = `cat count; echo inflight >> journal`
)

// serviceBody is a command drain of that service, with the scripts run by
// sh -c.
const serviceBody = `pause_command    = ["sh", "-c", "` + pauseScript + `"]
  resume_command   = ["sh", "-c", "` + resumeScript + `"]
  inflight_command = ["sh", "-c", "` + inflightScript + `"]
  poll_interval    = "10ms"`

// loadCommand decodes a plan whose one step is `step "drain" "d" { body }`
// (on line 7) and returns the command drain.
func loadCommand(t *testing.T, body string) *CommandStep {
	t.Helper()
	p, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+"step \"drain\" \"d\" {\n  "+body+"\n}\n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, ok := p.Steps[0].Impl.(*CommandStep)
	if !ok {
		t.Fatalf("impl = %#v", p.Steps[0].Impl)
	}
	if s.dir != p.Dir {
		t.Fatalf("commands run in %q, not in the plan's directory %q", s.dir, p.Dir)
	}
	return s
}

// service returns a command drain of the test service with count in flight.
func service(t *testing.T, count int) *CommandStep {
	t.Helper()
	s := loadCommand(t, serviceBody)
	setCount(t, s.dir, count)
	return s
}

// drainDeadline bounds drainWhilePaused, so a step that never reads the
// count fails the test instead of hanging it.
const drainDeadline = time.Minute

// setCount writes the in-flight count atomically (inflight.sh never reads a
// half-written file).
func setCount(t *testing.T, dir string, n int) {
	t.Helper()
	tmp := filepath.Join(dir, "count.tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(dir, "count")); err != nil {
		t.Error(err)
	}
}

// drainWhilePaused decrements the count from from to 0, one at a time, only
// while the service is paused and only after the count was read since the
// last decrement (so every value is read at least once); the returned
// channel closes when it is done, or when drainDeadline passes (an error:
// the step never read the counts).
func drainWhilePaused(t *testing.T, dir string, from int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(drainDeadline)
		for n := from; n > 0; {
			select {
			case <-tick.C:
			case <-deadline:
				t.Errorf("the count was still %d after %s: the step did not read it", n, drainDeadline)
				return
			}
			j, _ := os.ReadFile(filepath.Join(dir, "journal"))
			if paused(dir) && strings.Count(string(j), "inflight") > from-n {
				n--
				setCount(t, dir, n)
			}
		}
	}()
	return done
}

func journal(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "journal"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(data)
}

func paused(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "paused"))
	return err == nil
}

func TestDecodeCommandMode(t *testing.T) {
	s := loadCommand(t, `pause_command  = ["appctl", "pause", "--token", sensitive("s3cr")]
  resume_command = ["appctl", "resume", "--note=a b"]`)
	if s.inflight.set() || s.interval != 500*time.Millisecond {
		t.Errorf("inflight %v, interval %s: want none and the 500ms default", s.inflight.args, s.interval)
	}
	if got := s.pause.String(); got != "appctl pause --token (sensitive)" {
		t.Errorf("pause = %q", got)
	}
	if got := s.pause.args[3]; got != "s3cr" {
		t.Errorf("the command runs with %q, want the real value", got)
	}
	if got := s.DescribeRelease(); got != `run appctl resume "--note=a b"` {
		t.Errorf("DescribeRelease() = %q", got)
	}
	var _ steps.Releaser = s
}

// A sensitive list, or a template holding a sensitive value, masks what it
// covers.
func TestDecodeCommandSensitive(t *testing.T) {
	s := loadCommand(t, `pause_command  = sensitive(["appctl", "pause"])
  resume_command = ["appctl", "--key=${sensitive("k")}", "resume"]`)
	if got := s.pause.String(); got != "(sensitive) (sensitive)" {
		t.Errorf("pause = %q", got)
	}
	if got := s.resume.String(); got != "appctl (sensitive) resume" {
		t.Errorf("resume = %q", got)
	}
}

func TestDecodeCommandDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, body, summary, detail string
		line, col                   int
	}{
		{"no resume_command", `pause_command = ["appctl", "pause"]`,
			"Missing required argument", "resume_command is missing", 7, 18},
		{"no pause_command", `resume_command = ["appctl", "resume"]`,
			"Missing required argument", "pause_command is missing", 7, 18},
		{"only inflight_command", `inflight_command = ["appctl", "inflight"]`,
			"Missing required argument", "pause_command is missing", 7, 18},
		{"beside pause_url", "pause_command = [\"a\"]\n  resume_command = [\"b\"]\n  pause_url = \"http://x/p\"",
			"Conflicting drain modes", "remove pause_url", 10, 3},
		{"beside headers", "pause_command = [\"a\"]\n  resume_command = [\"b\"]\n  headers = {a = \"b\"}",
			"Conflicting drain modes", "remove headers", 10, 3},
		{"inflight_command in the HTTP mode", "pause_url = \"http://x/p\"\n  resume_url = \"http://x/r\"\n  inflight_command = [\"c\"]",
			"Conflicting drain modes", "remove inflight_command", 10, 3},
		{"beside minio", "minio = minio.prod\n  resume_command = [\"b\"]",
			"Conflicting drain modes", "the command attributes, not both; remove resume_command or minio", 9, 3},
		{"empty pause_command", "pause_command = []\n  resume_command = [\"b\"]",
			"Empty command", "pause_command must name a program", 8, 19},
		{"empty resume_command", "pause_command = [\"a\"]\n  resume_command = []",
			"Empty command", "resume_command must name a program", 9, 20},
		{"empty program", "pause_command = [\"a\"]\n  resume_command = [\"\", \"x\"]",
			"Empty command", "resume_command must name a program", 9, 20},
		{"empty inflight_command", "pause_command = [\"a\"]\n  resume_command = [\"b\"]\n  inflight_command = []",
			"Empty command", "inflight_command must name a program", 10, 22},
		{"null pause_command", "pause_command = null\n  resume_command = [\"b\"]",
			"Empty command", "pause_command must name a program", 8, 19},
		{"bad poll_interval", "pause_command = [\"a\"]\n  resume_command = [\"b\"]\n  poll_interval = \"soon\"",
			"Invalid poll_interval", `"soon" is not a positive duration`, 7, 18},
		{"no mode", `poll_interval = "1s"`,
			"Missing drain target", "or pause_command and resume_command (a service drained by a command)", 7, 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+"step \"drain\" \"d\" {\n  "+tc.body+"\n}\n")
			d := hcltest.WantDiagDetail(t, diags, tc.summary, tc.detail, tc.line)
			wantAt(t, d, tc.line, tc.col)
		})
	}
}

// wantAt checks that d points at plan.hcl:line:col.
func wantAt(t *testing.T, d *hcl.Diagnostic, line, col int) {
	t.Helper()
	if d.Subject == nil || filepath.Base(d.Subject.Filename) != "plan.hcl" || d.Subject.Start.Line != line || d.Subject.Start.Column != col {
		t.Errorf("%s at %v, want plan.hcl:%d:%d", d.Summary, d.Subject, line, col)
	}
}

// Apply records its undo, runs the pause command, then reads the count until
// it is 0 (the count only falls while the service is paused, so the wait
// ended after the pause). Release runs the resume command, and is safe to
// run again.
func TestCommandApplyWaitsForZero(t *testing.T) {
	s := service(t, 3)
	done := drainWhilePaused(t, s.dir, 3)
	ctx := context.Background()
	rt := steptest.NewRuntime("drain.test")
	must(t, "apply", s.Apply(ctx, rt))
	<-done
	if !paused(s.dir) {
		t.Fatal("not paused after Apply")
	}
	if !strings.Contains(string(rt.Undo), `"resume":"sh -c`) {
		t.Errorf("undo = %s", rt.Undo)
	}
	if rt.Outputs["drained"] != "3" || !strings.HasPrefix(rt.Summary, "paused; 3 in flight drained in ") {
		t.Errorf("outputs %v, summary %q", rt.Outputs, rt.Summary)
	}
	if last := rt.Reports[len(rt.Reports)-1]; last.Done != 3 || last.Total != 3 || last.Unit != "in flight" {
		t.Errorf("last progress = %+v", last)
	}
	if out := rt.Text(); !strings.HasPrefix(out, "pausing\n3\n") || !strings.HasSuffix(out, "\n0\n") {
		t.Errorf("step log = %q, want the pause's output, then the counts", out)
	}
	j := journal(t, s.dir)
	if !strings.HasPrefix(j, "pause\ninflight\n") || strings.Contains(j, "resume") {
		t.Errorf("journal after Apply = %q", j)
	}

	must(t, "release", s.Release(ctx, rt))
	must(t, "undo (release again)", s.Undo(ctx, rt))
	if paused(s.dir) {
		t.Error("still paused after Release")
	}
	if j := journal(t, s.dir); !strings.HasSuffix(j, "inflight\nresume\nresume\n") {
		t.Errorf("journal after Release = %q", j)
	}
}

// Without inflight_command, Apply pauses and is done.
func TestCommandApplyWithoutInflight(t *testing.T) {
	s := loadCommand(t, `pause_command  = ["sh", "-c", "`+pauseScript+`"]
  resume_command = ["sh", "-c", "`+resumeScript+`"]`)
	rt := steptest.NewRuntime("drain.test")
	must(t, "apply", s.Apply(context.Background(), rt))
	if !paused(s.dir) || rt.Summary != "paused" || journal(t, s.dir) != "pause\n" {
		t.Errorf("paused %v, summary %q, journal %q", paused(s.dir), rt.Summary, journal(t, s.dir))
	}
}

// When the step's timeout ends the wait, the error says how many were still
// in flight at the last read.
func TestCommandTimeoutStillInFlight(t *testing.T) {
	s := service(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Apply(ctx, steptest.NewRuntime("drain.test"))
	if err == nil || err.Error() != "2 still in flight when the drain timed out" {
		t.Fatalf("apply = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the wait outlived its deadline by %s", d-300*time.Millisecond)
	}
}

// A pause command that hangs is killed at the step's timeout.
func TestCommandPauseHangs(t *testing.T) {
	s := loadCommand(t, `pause_command  = ["sleep", "30"]
  resume_command = ["true"]`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // long enough to read the count twice on a loaded machine
	defer cancel()
	start := time.Now()
	err := s.Apply(ctx, steptest.NewRuntime("drain.test"))
	if err == nil || !strings.HasPrefix(err.Error(), "pause: command sleep 30: context deadline exceeded") {
		t.Fatalf("apply = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Apply returned after %s", d)
	}
}

// An in-flight command whose output is not a non-negative integer is read
// again until the timeout (as the HTTP mode does), then the error quotes a
// short excerpt of what it printed; Plan fails on it at once.
func TestCommandBadInflightOutput(t *testing.T) {
	long := strings.Repeat("busy ", 2000) // more than the parser keeps
	for _, tc := range []struct{ name, output, want string }{
		{"negative", "-1", `in-flight command output is not a count: "-1"`},
		{"words", "two\n", `in-flight command output is not a count: "two"`},
		{"two numbers", "3\n4\n", `in-flight command output is not a count: "3 4"`},
		{"empty", "", `in-flight command output is not a count: ""`},
		{"long", "7 " + long, `longer than 4096 bytes, not a count: "7 busy busy`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := service(t, 0)
			if err := os.WriteFile(filepath.Join(s.dir, "count"), []byte(tc.output), 0o600); err != nil {
				t.Fatal(err)
			}
			// Long enough to read the count at least twice even on a loaded
			// machine (a command start can take hundreds of milliseconds).
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := s.Apply(ctx, steptest.NewRuntime("drain.test"))
			if err == nil || !strings.HasPrefix(err.Error(), "in-flight count unreadable: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("apply = %v, want %s", err, tc.want)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error quotes %d bytes: %s", len(err.Error()), err)
			}
			if n := strings.Count(journal(t, s.dir), "inflight"); n < 2 {
				t.Errorf("the count was read %d time(s), want it read again until the timeout", n)
			}
			_, err = s.Plan(context.Background(), steptest.NewRuntime("drain.test"))
			if err == nil || !strings.HasPrefix(err.Error(), "read in-flight count: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("plan = %v", err)
			}
		})
	}
}

// An in-flight command that fails is an unreadable count, with its exit
// status and output.
func TestCommandInflightFails(t *testing.T) {
	s := loadCommand(t, `pause_command    = ["true"]
  resume_command   = ["true"]
  inflight_command = ["sh", "-c", "echo no such app >&2; exit 5"]
  poll_interval    = "10ms"`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.Apply(ctx, steptest.NewRuntime("drain.test"))
	if err == nil || !strings.Contains(err.Error(), `in-flight count unreadable: command sh -c "echo no such app >&2; exit 5" exited with status 5: no such app`) {
		t.Fatalf("apply = %v", err)
	}
}

// A pause command that fails stops Apply with its exit status and the last
// lines of its output; the undo was recorded before it ran, and nothing
// waits for the count.
func TestCommandPauseFails(t *testing.T) {
	s := loadCommand(t, `pause_command    = ["sh", "-c", "echo pause >> journal; echo line1; echo cannot pause >&2; exit 3"]
  resume_command   = ["true"]
  inflight_command = ["sh", "-c", "`+inflightScript+`"]`)
	rt := steptest.NewRuntime("drain.test")
	err := s.Apply(context.Background(), rt)
	var ce *command.Error
	if !errors.As(err, &ce) || ce.ExitCode != 3 {
		t.Fatalf("apply = %v, want a command error with status 3", err)
	}
	if !strings.HasPrefix(err.Error(), "pause: command sh -c ") || !strings.HasSuffix(err.Error(), "exited with status 3: line1 | cannot pause") {
		t.Errorf("apply = %v", err)
	}
	if rt.Undo == nil {
		t.Error("no undo recorded")
	}
	if j := journal(t, s.dir); j != "pause\n" {
		t.Errorf("journal = %q, want the pause only", j)
	}
}

// Plan runs neither the pause nor the resume command: it checks their
// programs exist, reads the count once (as the HTTP mode reads its
// in-flight URL) and describes the commands.
func TestCommandPlan(t *testing.T) {
	s := service(t, 3)
	actions, err := s.Plan(context.Background(), steptest.NewRuntime("drain.test"))
	must(t, "plan", err)
	var got []string
	for _, a := range actions {
		got = append(got, a.Summary)
	}
	want := []string{
		`pause: run sh -c "` + pauseScript + `"`,
		`wait until sh -c "` + inflightScript + `" prints 0 in flight (now 3)`,
		`on rollback or resume: run sh -c "` + resumeScript + `"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if j := journal(t, s.dir); j != "inflight\n" || paused(s.dir) {
		t.Errorf("journal %q, paused %v: Plan ran more than the in-flight command", j, paused(s.dir))
	}
}

// Without inflight_command, Plan runs nothing at all.
func TestCommandPlanWithoutInflight(t *testing.T) {
	s := loadCommand(t, `pause_command  = ["sh", "-c", "`+pauseScript+`"]
  resume_command = ["sh", "-c", "`+resumeScript+`"]`)
	actions, err := s.Plan(context.Background(), steptest.NewRuntime("drain.test"))
	must(t, "plan", err)
	if len(actions) != 2 || !strings.HasPrefix(actions[1].Summary, "on rollback or resume: run sh -c") {
		t.Errorf("plan = %+v", actions)
	}
	if j := journal(t, s.dir); j != "" {
		t.Errorf("journal = %q: Plan ran a command", j)
	}
}

// Plan fails when a program cannot be found; a relative path is looked up
// from the plan's directory, where the commands run.
func TestCommandPlanProgramNotFound(t *testing.T) {
	s := loadCommand(t, `pause_command  = ["./appctl", "pause"]
  resume_command = ["no-such-appctl-4242", "resume"]`)
	if err := os.WriteFile(filepath.Join(s.dir, "appctl"), []byte("#!/bin/sh\necho \"$1\" >> journal\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := s.Plan(context.Background(), steptest.NewRuntime("drain.test"))
	if err == nil || !strings.Contains(err.Error(), "command no-such-appctl-4242 resume: program not found") {
		t.Fatalf("plan = %v", err)
	}
	must(t, "apply", s.Apply(context.Background(), steptest.NewRuntime("drain.test")))
	if j := journal(t, s.dir); j != "pause\n" {
		t.Errorf("journal = %q", j)
	}
}

// Sensitive arguments never appear in plans, the undo record or errors
// (even values too short for the masking writer).
func TestCommandSensitiveArgs(t *testing.T) {
	s := loadCommand(t, `pause_command  = ["sh", "-c", "exit 4", sensitive("s3cr")]
  resume_command = ["sh", "-c", "exit 0", sensitive("s3cr")]`)
	actions, err := s.Plan(context.Background(), steptest.NewRuntime("drain.test"))
	must(t, "plan", err)
	rt := steptest.NewRuntime("drain.test")
	err = s.Apply(context.Background(), rt)
	if err == nil || !strings.Contains(err.Error(), `(sensitive) exited with status 4`) {
		t.Fatalf("apply = %v", err)
	}
	seen := []string{err.Error(), string(rt.Undo), rt.Text(), s.DescribeRelease()}
	for _, a := range actions {
		seen = append(seen, a.Summary)
	}
	for _, text := range seen {
		if strings.Contains(text, "s3cr") {
			t.Errorf("secret shown: %q", text)
		}
	}

	// a sensitive program name that cannot be found or started
	s = loadCommand(t, `pause_command  = [sensitive("nx4k"), "pause"]
  resume_command = ["true"]`)
	_, err = s.Plan(context.Background(), steptest.NewRuntime("drain.test"))
	if err == nil || !strings.Contains(err.Error(), "command (sensitive) pause: program not found") || strings.Contains(err.Error(), "nx4k") {
		t.Errorf("plan = %v", err)
	}
	err = s.Apply(context.Background(), steptest.NewRuntime("drain.test"))
	if err == nil || !strings.Contains(err.Error(), "(sensitive)") || strings.Contains(err.Error(), "nx4k") {
		t.Errorf("apply = %v", err)
	}
}
