package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/ptytest"
)

const followPlan = `cutover "follow" {}

step "exec" "one" {
  command = ["sh", "-c", "until [ -e gate1 ]; do sleep 0.02; done; echo one"]
}

step "exec" "two" {
  command = ["sh", "-c", "until [ -e gate2 ]; do sleep 0.02; done; echo two"]
}

step "exec" "three" {
  command = ["true"]
}
`

// waitFor polls cond every 20 ms until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestFollowAfterHangup: `cutover run` runs on a pseudo-terminal in a
// session of its own; `cutover status --follow --json`, started from
// elsewhere while the run waits in its first step, prints every line of
// the run's events log, byte for byte, through to its end, although the
// run's terminal is hung up (its controller closed: SIGHUP) in the middle.
// Both exit 0.
func TestFollowAfterHangup(t *testing.T) {
	bin, err := exec.LookPath("cutover") // the test binary as cutover (TestMain)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(planFile, []byte(followPlan), 0o600); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, ".cutover", "follow", eventsLogName)
	holds := func(s string) func() bool {
		return func() bool { data, _ := os.ReadFile(events); return strings.Contains(string(data), s) }
	}

	ptm, pts, err := ptytest.Open()
	if err != nil {
		t.Fatal(err)
	}
	run := exec.Command(bin, "run", planFile)
	run.Dir = dir
	run.Stdin, run.Stdout, run.Stderr = pts, pts, pts
	run.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	go func() { _, _ = bufio.NewReader(ptm).WriteTo(discard{}) }()
	defer func() {
		if run.ProcessState == nil {
			_ = run.Process.Kill()
			_ = run.Wait()
		}
	}()
	waitFor(t, "the run's first step", holds(`"type":"step.start","step":"exec.one"`))

	follow := exec.Command(bin, "status", "--follow", "--json", planFile)
	follow.Dir = dir
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	next := func(want string) {
		t.Helper()
		for l := range lines {
			got = append(got, l)
			if strings.Contains(l, want) {
				return
			}
		}
		t.Fatalf("follow ended before %s:\n%s\n%s", want, strings.Join(got, "\n"), stderr.String())
	}
	next(`"type":"step.start","step":"exec.one"`)
	if err := os.WriteFile(filepath.Join(dir, "gate1"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	next(`"type":"step.done","step":"exec.one"`)

	ptm.Close() // the run's terminal hangs up: SIGHUP to its session
	waitFor(t, "the run to notice the hangup", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, ".cutover", "follow", "logs", "run.log"))
		return strings.Contains(string(data), "cutover: hangup: the terminal is gone")
	})
	if err := os.WriteFile(filepath.Join(dir, "gate2"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		got = append(got, l)
	}
	if err := follow.Wait(); err != nil {
		t.Errorf("cutover status --follow: %v\n%s", err, stderr.String())
	}
	if err := run.Wait(); err != nil {
		t.Errorf("cutover run after the hangup: %v", err)
	}

	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("follow printed:\n%s\nthe events log holds:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{`"type":"step.done","step":"exec.two"`, `"type":"step.done","step":"exec.three"`,
		`"type":"run.end","status":"completed"`, `"type":"result","outcome":"completed","exit_code":0`, `"type":"session.end"`} {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("follow did not print %s", w)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
