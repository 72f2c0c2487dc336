package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// needMount skips a test that mounts file systems when it cannot: without
// root outside CI. Under CI=true (CI runs as root) a missing capability fails.
func needMount(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the cutover binary; skipped with -short")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mounting a tmpfs needs root; CI runs the tests as root")
		}
		t.Skip("mounting a tmpfs needs root (CI runs as root): run `sudo go test ./internal/cli -run " + t.Name() + "`")
	}
}

// mount runs mount(8) with args and unmounts target when the test ends.
func mount(t *testing.T, target string, args ...string) {
	t.Helper()
	out, err := exec.Command("mount", append(args, target)...).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount %v %s: %v\n%s", args, target, err, out)
		}
		t.Skipf("mount %v %s: %v (%s): this machine does not allow mounts", args, target, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", target).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", target, err, out)
		}
	})
}

// tmpfs mounts a tmpfs of size (e.g. "1m") on a fresh directory.
func tmpfs(t *testing.T, size string) string {
	dir := t.TempDir()
	mount(t, dir, "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs")
	return dir
}

// faultPlan's exec.fault step runs $FAULT, which breaks the state directory
// ($STATE_DIR) after env.switch and exec.x changed things.
const faultPlan = `cutover "faults" {}

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

step "exec" "fault" {
  command = ["sh", "-c", "eval \"$FAULT\""]
}

step "exec" "after" {
  command = ["sh", "-c", "echo after >> exec.log"]
}
`

const faultAppEnv = "# app settings\nKMS_PROVIDER=local\n"

var fallbackLine = regexp.MustCompile(`recorded in (\S+/cutover-\d+/state-[0-9a-f]{16}-[0-9a-f]{16}\.json), and `)

// faultRun runs faultPlan with its state directory in state, $FAULT as
// fault; it returns the work dir, the result and the fallback file named.
func faultRun(t *testing.T, r *crashRig, state, fault string) (string, procResult, string) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"plan.hcl": faultPlan, "app.env": faultAppEnv})
	tmp := t.TempDir()
	env := []string{"STATE_DIR=" + state, "FAULT=" + fault, "TMPDIR=" + tmp}
	res := r.cutover(dir, env, "run", "--state", state, "plan.hcl")
	r.want(res, ExitRolledBack, "run (state directory broken by exec.fault)")
	m := fallbackLine.FindStringSubmatch(res.stderr)
	if m == nil || !strings.HasPrefix(m[1], tmp) {
		t.Fatalf("the error names no fallback file under %s:\n%s", tmp, res.stderr)
	}
	// Undone from memory: the env file byte for byte, exec.x by its rollback
	// command; exec.after never ran.
	files := workFiles(t, dir)
	if files["app.env"] != faultAppEnv || files["exec.log"] != "ran\nundone\n" {
		t.Errorf("files after the rollback from memory: %q", files)
	}
	checkFallback(t, m[1], "exec.fault")
	// Every command that reads the state directory now refuses, naming it.
	for _, cmd := range []string{"status", "run", "rollback"} {
		res := r.cutover(dir, []string{"TMPDIR=" + tmp}, cmd, "--state", state, "plan.hcl")
		r.want(res, ExitFailed, cmd+" (fallback record pending)")
		if !strings.Contains(res.stderr, "left its record in "+m[1]) || !strings.Contains(res.stderr, "cutover: hint: read "+m[1]+"; once "+state+" can be written again:\ncutover: hint: mv "+m[1]+" "+state+"/state.json\n") {
			t.Errorf("%s with a fallback record pending:\n%s", cmd, res.stderr)
		}
	}
	if got := workFiles(t, dir); got["app.env"] != faultAppEnv || got["exec.log"] != "ran\nundone\n" {
		t.Errorf("refused commands changed files: %q", got)
	}
	return dir, res, m[1]
}

// checkFallback checks that path is a sealed checkpoint of a finished
// rollback in which every compensation is done and failedStep failed.
func checkFallback(t *testing.T, path, failedStep string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Digest   string
		Phase    string
		Steps    []struct{ ID, Status string }
		Rollback struct {
			Actions []struct{ Step, Op, Status string }
		}
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Digest, "sha256:") || st.Phase != "rolled_back" || len(st.Rollback.Actions) != 3 {
		t.Fatalf("fallback record: digest %q phase %q actions %+v", st.Digest, st.Phase, st.Rollback.Actions)
	}
	for _, a := range st.Rollback.Actions {
		if a.Status != "done" {
			t.Errorf("compensation %+v not done", a)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("fallback file mode: %v %v", fi.Mode(), err)
	}
}

// adopt moves the fallback record into the repaired state directory, as the
// hint says: status then reads the rolled-back run, and the audit log's
// torn last line (if the full disk tore one) does not swallow a record.
func adopt(t *testing.T, r *crashRig, dir, state, fallback string) {
	t.Helper()
	if out, err := exec.Command("mv", fallback, filepath.Join(state, "state.json")).CombinedOutput(); err != nil {
		t.Fatalf("mv: %v %s", err, out)
	}
	res := r.cutover(dir, nil, "status", "--state", state, "plan.hcl")
	r.want(res, ExitOK, "status (fallback adopted)")
	if !strings.Contains(res.stdout, "rolled_back") && !strings.Contains(res.stdout, "rolled back") {
		t.Errorf("status after adopting the fallback:\n%s", res.stdout)
	}
	res = r.cutover(dir, nil, "rollback", "--state", state, "plan.hcl")
	r.want(res, ExitOK, "rollback (already done)")
	lines := strings.Split(strings.TrimSuffix(readString(t, filepath.Join(state, "audit.jsonl")), "\n"), "\n")
	var last struct{ Message string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || !strings.Contains(last.Message, "already rolled back") {
		t.Errorf("last audit line %q: %v", lines[len(lines)-1], err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestStateDirFaults: the state directory fills up, or turns read-only,
// in the middle of a run, after changes were made. The run stops taking
// steps, rolls back from the state in memory, and writes what it did and
// undid to a fallback file outside the state directory, named in the error;
// every command then refuses the stale checkpoint until the record is moved
// back. Before any change, a state directory too small for the run is
// refused by the free-space check.
func TestStateDirFaults(t *testing.T) {
	needMount(t)
	r := &crashRig{t: t, bin: buildCutover(t), healthURL: healthServer(t)}

	t.Run("fills", func(t *testing.T) {
		r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
		state := filepath.Join(tmpfs(t, "1m"), "state")
		// The step's own output is the first write that needs space: a
		// step's mark (a line appended to state.log) and its audit line
		// still fit in blocks their files already hold, and are durable.
		dir, res, fallback := faultRun(t, r, state, `head -c 8000000 /dev/zero > "$STATE_DIR/filler" 2>/dev/null; echo filled`)
		if !strings.Contains(res.stderr, "no space left on device") {
			t.Errorf("the error does not say the disk is full:\n%s", res.stderr)
		}
		if err := os.Remove(filepath.Join(state, "filler")); err != nil {
			t.Fatal(err)
		}
		adopt(t, r, dir, state, fallback)
	})

	t.Run("read-only", func(t *testing.T) {
		r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
		state := t.TempDir()
		mount(t, state, "--bind", state)
		dir, res, fallback := faultRun(t, r, state, `mount -o remount,ro,bind "$STATE_DIR"`)
		if !strings.Contains(res.stderr, "read-only file system") {
			t.Errorf("the error does not say the file system is read-only:\n%s", res.stderr)
		}
		// The lock could not be removed either: the error says how to, later.
		m := regexp.MustCompile(`cutover: hint: cutover unlock ([0-9a-f]{16}) --state ` + regexp.QuoteMeta(state) + `   # once the state directory can be written`).FindStringSubmatch(res.stderr)
		if m == nil {
			t.Fatalf("no unlock hint:\n%s", res.stderr)
		}
		if out, err := exec.Command("mount", "-o", "remount,rw,bind", state).CombinedOutput(); err != nil {
			t.Fatalf("remount rw: %v %s", err, out)
		}
		r.want(r.cutover(dir, nil, "unlock", m[1], "--state", state), ExitOK, "unlock")
		adopt(t, r, dir, state, fallback)
	})

	t.Run("read-only-from-the-start", func(t *testing.T) {
		r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
		state := t.TempDir()
		mount(t, state, "--bind", state)
		if out, err := exec.Command("mount", "-o", "remount,ro,bind", state).CombinedOutput(); err != nil {
			t.Fatalf("remount ro: %v %s", err, out)
		}
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"plan.hcl": faultPlan, "app.env": faultAppEnv})
		res := r.cutover(dir, []string{"FAULT=true"}, "run", "--state", state, "plan.hcl")
		r.want(res, ExitFailed, "run (read-only state directory)")
		if !strings.Contains(res.stderr, "read-only file system") || !strings.Contains(res.stderr, "cutover: hint: check that the state directory is writable, or choose another with --state") {
			t.Errorf("refusal:\n%s", res.stderr)
		}
		if files := workFiles(t, dir); files["app.env"] != faultAppEnv || files["exec.log"] != "" {
			t.Errorf("a refused run changed files: %q", files)
		}
	})

	t.Run("too-small", func(t *testing.T) {
		r := &crashRig{t: t, bin: r.bin, healthURL: r.healthURL}
		state := filepath.Join(tmpfs(t, "256k"), "state")
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"plan.hcl": faultPlan, "app.env": faultAppEnv})
		res := r.cutover(dir, []string{"FAULT=true"}, "run", "--state", state, "plan.hcl")
		r.want(res, ExitFailed, "run (state directory too small)")
		if !regexp.MustCompile(`cutover: error: not enough free space in the state directory: \S+ has \d+ KiB free, a run of 4 steps needs at least 512 KiB \(256 KiB \+ 64 KiB per step\); nothing was changed`).MatchString(res.stderr) {
			t.Errorf("refusal:\n%s", res.stderr)
		}
		if files := workFiles(t, dir); files["app.env"] != faultAppEnv || files["exec.log"] != "" {
			t.Errorf("a refused run changed files: %q", files)
		}
		if _, err := os.Stat(filepath.Join(state, "state.json")); !os.IsNotExist(err) {
			t.Errorf("a refused run wrote state.json: %v", err)
		}
	})
}
