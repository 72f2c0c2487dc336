package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/faultpoint"
)

// crashPlan is the plan the crash tests interrupt at every step boundary.
// exec.mid kills cutover in the middle of the step the first time it runs
// (while the file "killed" does not exist).
const crashPlan = `cutover "crash" {}

step "env" "switch" {
  files = ["app.env"]
  set   = { KMS_PROVIDER = "AWS" }
}

step "exec" "x" {
  command = ["sh", "-c", "echo ran >> exec.log"]
  rollback {
    command = ["sh", "-c", "echo undone >> exec.log"]
  }
}

step "exec" "mid" {
  command = ["sh", "-c", "test -e killed || { touch killed; kill -9 $PPID; sleep 5; }"]
}

step "restart" "app" {
  command = ["sh", "-c", "echo restart >> restarts.log"]
}

step "health_check" "ready" {
  url      = "${env("HEALTH_URL")}/health"
  interval = "10ms"
  timeout  = "10s"
}

step "env" "final" {
  files = ["app.env"]
  set   = { CUTOVER_DONE = "yes" }
}
`

var crashSteps = []string{"env.switch", "exec.x", "exec.mid", "restart.app", "health_check.ready", "env.final"}

const crashStateDir = ".cutover/crash"

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns every regular file under dir (relative path -> bytes),
// leaving out the subtrees for which skip is true.
func readTree(t *testing.T, dir string, skip func(rel string) bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if skip != nil && rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// healthServer answers 200 on /health and /ok, 503 on anything else.
func healthServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" || r.URL.Path == "/ok" {
			fmt.Fprintln(w, "ok")
			return
		}
		http.Error(w, "unhealthy", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// crashRig runs a real cutover binary, so a fault point can SIGKILL it.
type crashRig struct {
	t         *testing.T
	bin       string
	healthURL string
}

func buildCutover(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/cutover/cutover/cmd/cutover").CombinedOutput()
	if err != nil {
		t.Fatalf("build cutover: %v\n%s", err, out)
	}
	return bin
}

type procResult struct {
	code           int
	stdout, stderr string
	pid            int
	killed         bool // by SIGKILL
}

// cutover runs the binary in dir with the test environment plus extraEnv.
func (r *crashRig) cutover(dir string, extraEnv []string, args ...string) procResult {
	r.t.Helper()
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, faultpoint.EnvVar+"=") && !strings.HasPrefix(kv, "CUTOVER_VAR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "HEALTH_URL="+r.healthURL), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := procResult{stdout: stdout.String(), stderr: stderr.String(), pid: cmd.Process.Pid}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("cutover %v: %v", args, err)
	}
	res.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		res.killed = true
	}
	return res
}

func (r *crashRig) want(res procResult, code int, args string) {
	r.t.Helper()
	if res.code != code {
		r.t.Fatalf("cutover %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", args, res.code, code, res.stdout, res.stderr)
	}
}

// newDir prepares a work dir; with done, exec.mid finds "killed" and does
// nothing.
func (r *crashRig) newDir(done bool) string {
	dir := r.t.TempDir()
	files := map[string]string{"plan.hcl": crashPlan, "app.env": "# app settings\nKMS_PROVIDER=local\n"}
	if done {
		files["killed"] = ""
	}
	writeFiles(r.t, dir, files)
	return dir
}

func workFiles(t *testing.T, dir string) map[string]string {
	return readTree(t, dir, func(rel string) bool { return rel == ".cutover" })
}

// normalState is the checkpoint (state.json and the step records of
// state.log, as checkpoint.Store.Load reads them) without what differs
// between equivalent runs: times, run IDs, attempts, input MACs,
// measured durations.
func normalState(t *testing.T, dir string) map[string]any {
	t.Helper()
	store, err := checkpoint.OpenExisting(filepath.Join(dir, crashStateDir))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	// the undo record holds absolute paths, under each test's own dir
	data = bytes.ReplaceAll(data, []byte(dir), []byte("$DIR"))
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return normalize(m).(map[string]any)
}

var (
	volatileKeys = map[string]bool{"started_at": true, "updated_at": true, "finished_at": true, "window_start": true,
		"run_id": true, "attempts": true, "inputs_mac": true, "digest": true}
	durationText = regexp.MustCompile(`[0-9]+(\.[0-9]+)?(ns|µs|us|ms|s|m|h)\b`)
)

func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k := range v {
			if volatileKeys[k] {
				delete(v, k)
			} else {
				v[k] = normalize(v[k])
			}
		}
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	case string:
		return durationText.ReplaceAllString(v, "<duration>")
	}
	return v
}

func stepRecord(st map[string]any, id string) map[string]any {
	for _, s := range st["steps"].([]any) {
		if m := s.(map[string]any); m["id"] == id {
			return m
		}
	}
	return nil
}

// checkLockLeft checks what a killed run leaves: its lock, which refuses the
// next run with the holder's ID, user, host and pid, is not removed by a
// wrong ID, and is removed by its own.
func (r *crashRig) checkLockLeft(dir string, pid int) {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, crashStateDir, "lock.json"))
	if err != nil {
		r.t.Fatalf("the killed run left no lock: %v", err)
	}
	var lock struct {
		ID, User, Host string
		PID            int
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		r.t.Fatal(err)
	}
	host, _ := os.Hostname()
	u, _ := user.Current()
	if lock.PID != pid || lock.Host != host || (u != nil && lock.User != u.Username) {
		r.t.Errorf("lock %+v, want pid %d host %s", lock, pid, host)
	}
	before := workFiles(r.t, dir)
	res := r.cutover(dir, nil, "run", "plan.hcl")
	r.want(res, ExitFailed, "run (locked)")
	want := fmt.Sprintf("cutover: error: state is locked by run: lock %s, user %s, host %s, pid %d, since ", lock.ID, lock.User, lock.Host, pid)
	if !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "cutover unlock "+lock.ID+" --state "+crashStateDir) {
		r.t.Errorf("locked run's stderr:\n%s\nwant %q and the unlock hint", res.stderr, want)
	}
	if !reflect.DeepEqual(workFiles(r.t, dir), before) {
		r.t.Error("a run refused by the lock changed files")
	}

	res = r.cutover(dir, nil, "unlock", "0123456789abcdef", "--state", crashStateDir)
	r.want(res, ExitFailed, "unlock (wrong ID)")
	if !strings.Contains(res.stderr, "lock ID does not match: the lock's ID is "+lock.ID) {
		r.t.Errorf("unlock with a wrong ID: %s", res.stderr)
	}
	res = r.cutover(dir, nil, "unlock", lock.ID, "--state", crashStateDir)
	r.want(res, ExitOK, "unlock")
	if _, err := os.Stat(filepath.Join(dir, crashStateDir, "lock.json")); !errors.Is(err, os.ErrNotExist) {
		r.t.Errorf("lock still there after unlock: %v", err)
	}
}

// finish runs the plan to the end after a crash. A non-idempotent step left
// started first stops the run with the operator's choices and changes
// nothing; it is then resolved as choice.
func (r *crashRig) finish(dir, choice string) (resolved string) {
	r.t.Helper()
	var stuck string
	for _, id := range crashSteps {
		if rec := stepRecord(normalState(r.t, dir), id); rec["status"] == "started" && strings.HasPrefix(id, "exec.") {
			stuck = id
		}
	}
	args := []string{"run", "plan.hcl"}
	if stuck != "" {
		before := workFiles(r.t, dir)
		res := r.cutover(dir, nil, "run", "plan.hcl")
		r.want(res, ExitFailed, "run (interrupted exec step)")
		for _, s := range []string{"--resolve " + stuck + "=done", "--resolve " + stuck + "=rerun", "cutover rollback", "not safe to run twice"} {
			if !strings.Contains(res.stderr, s) {
				r.t.Errorf("stopped run does not offer %q:\n%s", s, res.stderr)
			}
		}
		if !reflect.DeepEqual(workFiles(r.t, dir), before) {
			r.t.Error("the stopped run changed files")
		}
		if rec := stepRecord(normalState(r.t, dir), stuck); rec["status"] != "started" {
			r.t.Errorf("%s is %v after the stopped run, want still started", stuck, rec["status"])
		}
		args = []string{"run", "--resolve", stuck + "=" + choice, "plan.hcl"}
	}
	r.want(r.cutover(dir, nil, args...), ExitOK, strings.Join(args, " "))
	return stuck
}

func (r *crashRig) compare(dir string, wantFiles map[string]string, wantState map[string]any) {
	r.t.Helper()
	if got := workFiles(r.t, dir); !reflect.DeepEqual(got, wantFiles) {
		r.t.Errorf("files after the crash and resume:\n%q\nwant (uninterrupted run):\n%q", got, wantFiles)
	}
	got, _ := json.MarshalIndent(normalState(r.t, dir), "", "  ")
	want, _ := json.MarshalIndent(wantState, "", "  ")
	if string(got) != string(want) {
		r.t.Errorf("state.json after the crash and resume:\n%s\nwant (uninterrupted run):\n%s", got, want)
	}
}

// TestCrashSafety kills cutover with SIGKILL at every step boundary and in
// the middle of a step, resumes, and checks that the files and the
// checkpoint end exactly as after an uninterrupted run; then it rolls back
// after a few crashes instead of resuming. Last, it hangs up cutover's
// terminal (SIGHUP, closed stdout and stderr) at every step boundary: the
// run ends as an uninterrupted one, with no resume.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cutover binary; skipped with -short")
	}
	r := &crashRig{t: t, bin: buildCutover(t), healthURL: healthServer(t)}

	base := r.newDir(true)
	uninterrupted := r.cutover(base, nil, "run", "plan.hcl")
	r.want(uninterrupted, ExitOK, "run (uninterrupted)")
	wantFiles := workFiles(t, base)
	wantState := normalState(t, base)
	if wantFiles["app.env"] != "# app settings\nKMS_PROVIDER=AWS\nCUTOVER_DONE=yes\n" || wantFiles["exec.log"] != "ran\n" ||
		wantFiles["restarts.log"] != "restart\n" || wantState["phase"] != "completed" {
		t.Fatalf("uninterrupted run: files %q, phase %v", wantFiles, wantState["phase"])
	}

	for _, point := range crashPoints() {
		t.Run(point, func(t *testing.T) {
			r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
			dir := r.newDir(true)
			res := r.cutover(dir, []string{faultpoint.EnvVar + "=" + point}, "run", "plan.hcl")
			if !res.killed {
				t.Fatalf("cutover was not killed at %s: exit %d\n%s%s", point, res.code, res.stdout, res.stderr)
			}
			r.checkLockLeft(dir, res.pid)
			// after-start is before the step acts: re-running is right
			stuck := r.finish(dir, "rerun")
			if wantStuck := strings.HasPrefix(point, "after-start:exec."); wantStuck != (stuck != "") {
				t.Errorf("step left started needing a decision: %q", stuck)
			}
			r.compare(dir, wantFiles, wantState)
		})
	}

	t.Run("mid-step", func(t *testing.T) {
		r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
		dir := r.newDir(false)
		res := r.cutover(dir, nil, "run", "plan.hcl")
		if !res.killed {
			t.Fatalf("exec.mid did not kill cutover: exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
		r.checkLockLeft(dir, res.pid)
		// the command did its work before it killed cutover: mark it done
		if stuck := r.finish(dir, "done"); stuck != "exec.mid" {
			t.Errorf("step needing a decision %q, want exec.mid", stuck)
		}
		want := normalize(cloneJSON(t, wantState)).(map[string]any)
		stepRecord(want, "exec.mid")["summary"] = "marked done by the operator (--resolve)"
		r.compare(dir, wantFiles, want)
	})

	t.Run("rollback", func(t *testing.T) { crashThenRollback(t, r) })
	t.Run("full-state-dir", func(t *testing.T) { fullAtEveryPoint(t, r, wantFiles) })

	for _, point := range crashPoints() {
		t.Run("SIGHUP@"+point, func(t *testing.T) {
			r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
			r.hangupAt(point, uninterrupted.stdout, wantFiles, wantState)
		})
	}
}

// hangupAt drops cutover's terminal at point (stdout and stderr become a
// pipe nobody reads, then SIGHUP, as when the SSH connection to the bastion
// drops): the run goes on to the end without anyone, releases its lock, ends
// exactly as an uninterrupted run, and its run log holds every line the
// uninterrupted run printed, in order.
func (r *crashRig) hangupAt(point, wantLines string, wantFiles map[string]string, wantState map[string]any) {
	r.t.Helper()
	dir := r.newDir(true)
	res := r.cutover(dir, []string{faultpoint.EnvVar + "=SIGHUP@" + point}, "run", "plan.hcl")
	r.want(res, ExitOK, "run (terminal hung up at "+point+")")
	if _, err := os.Stat(filepath.Join(dir, crashStateDir, "lock.json")); !errors.Is(err, os.ErrNotExist) {
		r.t.Errorf("lock left after the hung-up run: %v", err)
	}
	r.compare(dir, wantFiles, wantState)
	data, err := os.ReadFile(filepath.Join(dir, crashStateDir, "logs", "run.log"))
	if err != nil {
		r.t.Fatal(err)
	}
	logged := durationText.ReplaceAllString(string(data), "<duration>")
	if !strings.Contains(logged, "\ncutover: hangup: the terminal is gone; ") {
		r.t.Errorf("run.log does not say the terminal hung up:\n%s", logged)
	}
	rest := logged
	for _, line := range strings.Split(strings.TrimSpace(wantLines), "\n") {
		line = durationText.ReplaceAllString(line, "<duration>")
		if strings.HasPrefix(line, "run ") {
			line = line[strings.Index(line, " of "):] // the run ID differs
		}
		i := strings.Index(rest, line)
		if i < 0 {
			r.t.Fatalf("run.log lacks %q (or has it out of order):\n%s", line, logged)
		}
		rest = rest[i+len(line):]
	}
}

// fullAtEveryPoint fills the state directory's file system (a small tmpfs)
// at every step boundary: the run stops, rolls back from memory (the env
// file byte for byte), and leaves a fallback record of a finished rollback;
// once space is freed and the record moved back as the hint says, the plan
// runs to the end as an uninterrupted run does.
func fullAtEveryPoint(t *testing.T, r *crashRig, wantFiles map[string]string) {
	needMount(t)
	for _, point := range crashPoints() {
		t.Run(point, func(t *testing.T) {
			r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
			dir := r.newDir(true)
			state := filepath.Join(tmpfs(t, "2m"), "state")
			tmp := t.TempDir()
			res := r.cutover(dir, []string{faultpoint.EnvVar + "=full:" + point, "TMPDIR=" + tmp}, "run", "--state", state, "plan.hcl")
			r.want(res, ExitRolledBack, "run (state directory full at "+point+")")
			m := fallbackLine.FindStringSubmatch(res.stderr)
			if m == nil || !strings.Contains(res.stderr, "no space left on device") {
				t.Fatalf("the error names no full disk and no fallback record:\n%s", res.stderr)
			}
			if got := workFiles(t, dir)["app.env"]; got != "# app settings\nKMS_PROVIDER=local\n" {
				t.Errorf("app.env after the rollback from memory: %q", got)
			}
			var st struct {
				Phase    string
				Rollback struct {
					Actions []struct{ Step, Status string }
				}
			}
			if err := json.Unmarshal([]byte(readString(t, m[1])), &st); err != nil || st.Phase != "rolled_back" {
				t.Fatalf("fallback record: phase %q, %v", st.Phase, err)
			}
			for _, a := range st.Rollback.Actions {
				if a.Status != "done" {
					t.Errorf("compensation %+v not done", a)
				}
			}
			if err := os.Remove(filepath.Join(state, "faultpoint-full")); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("mv", m[1], filepath.Join(state, "state.json")).CombinedOutput(); err != nil {
				t.Fatalf("mv: %v %s", err, out)
			}
			r.want(r.cutover(dir, []string{"TMPDIR=" + tmp}, "run", "--state", state, "plan.hcl"), ExitOK, "run (after the fallback was moved back)")
			if got := workFiles(t, dir)["app.env"]; got != wantFiles["app.env"] {
				t.Errorf("app.env after the new run: %q, want %q", got, wantFiles["app.env"])
			}
		})
	}
}

// crashPoints are the fault points at every step boundary, and for env
// steps between recording the undo data and writing the files.
func crashPoints() []string {
	var out []string
	for _, id := range crashSteps {
		out = append(out, "after-start:"+id)
		if strings.HasPrefix(id, "env.") {
			out = append(out, "before-effect:"+id)
		}
		out = append(out, "after-done:"+id)
	}
	return out
}

// crashThenRollback kills cutover and rolls back from the checkpoint the
// killed process left: the env file comes back byte for byte and exactly
// the compensations of what ran are applied.
func crashThenRollback(t *testing.T, r *crashRig) {
	original := map[string]string{"plan.hcl": crashPlan, "app.env": "# app settings\nKMS_PROVIDER=local\n", "killed": ""}
	tests := []struct {
		point string
		extra map[string]string // files besides the original ones
	}{
		// the undo data is recorded, the file not yet written: nothing to restore
		{point: "before-effect:env.switch"},
		{point: "after-done:exec.x", extra: map[string]string{"exec.log": "ran\nundone\n"}},
		// the restart never ran, but it is redone after the changes are undone
		{point: "after-start:restart.app", extra: map[string]string{"exec.log": "ran\nundone\n", "restarts.log": "restart\n"}},
		{point: "before-effect:env.final", extra: map[string]string{"exec.log": "ran\nundone\n", "restarts.log": "restart\nrestart\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.point, func(t *testing.T) {
			r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
			dir := r.newDir(true)
			res := r.cutover(dir, []string{faultpoint.EnvVar + "=" + tc.point}, "run", "plan.hcl")
			if !res.killed {
				t.Fatalf("cutover was not killed at %s: exit %d\n%s%s", tc.point, res.code, res.stdout, res.stderr)
			}
			r.checkLockLeft(dir, res.pid)
			r.want(r.cutover(dir, nil, "rollback", "plan.hcl"), ExitOK, "rollback")
			want := map[string]string{}
			for k, v := range original {
				want[k] = v
			}
			for k, v := range tc.extra {
				want[k] = v
			}
			if got := workFiles(t, dir); !reflect.DeepEqual(got, want) {
				t.Errorf("files after the rollback:\n%q\nwant:\n%q", got, want)
			}
			if st := normalState(t, dir); st["phase"] != "rolled_back" {
				t.Errorf("phase %v after the rollback", st["phase"])
			}
			res = r.cutover(dir, nil, "rollback", "plan.hcl")
			r.want(res, ExitOK, "rollback (again)")
			if !strings.Contains(res.stdout, "already rolled back") {
				t.Errorf("second rollback: %s", res.stdout)
			}
		})
	}
}

func cloneJSON(t *testing.T, v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
