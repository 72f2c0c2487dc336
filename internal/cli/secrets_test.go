package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The secrets of the scan: each reaches cutover by a different path.
var scanSecrets = map[string]string{
	"-var api_key":                        "sk-api-4f9c2e7d1b8a6035",
	"-var-file db_password":               "db-pass-93e1c7a5f2b8d406",
	"CUTOVER_VAR_token":                   "tok-env-5d2a8f1c9e3b7046",
	"file(kms.key)":                       "kms-key-material-7c3e9a1f5b2d8046",
	"app.env APP_STATIC_SECRET_KEY (old)": "minio-key:old-static-9f8e7d6c5b4a3f2e",
	"app.env API_TOKEN (old)":             "old-api-token-2b4d6f8a0c1e",
	"-var api_key (fails validation)":     "sk-short-7731",
}

const secretsPlan = `cutover "secrets" {}

variable "api_key" {
  sensitive = true
  validation {
    condition     = length(regexall(".", var.api_key)) >= 16
    error_message = "api_key ${var.api_key} is too short."
  }
}
variable "db_password" { sensitive = true }
variable "token"       { sensitive = true }
variable "health_path" { default = "ok" }
variable "echo_exit"   { default = 0 }
variable "health_timeout" { default = "5s" }

step "env" "switch" {
  files = ["app.env"]
  set = {
    KMS_PROVIDER      = "AWS"
    API_TOKEN         = var.api_key
    DB_PASSWORD       = var.db_password
    KES_TOKEN         = var.token
    APP_KES_KEY       = file("kms.key")
  }
  unset = ["APP_STATIC_SECRET_KEY"]
}

step "exec" "echo" {
  command = ["sh", "-c", "echo token=$TOKEN db=$DB; echo key=$KEY >&2; exit ${var.echo_exit}"]
  env     = { TOKEN = var.token, DB = var.db_password, KEY = file("kms.key") }
  rollback {
    command = ["sh", "-c", "echo undo ${var.api_key}; exit $(cat undo-exit 2>/dev/null || echo 0)"]
  }
}

step "restart" "app" {
  command = ["sh", "-c", "echo restarted >> restarts.log"]
}

step "health_check" "ready" {
  url      = "${env("HEALTH_URL")}/${var.health_path}?token=${var.api_key}"
  interval = "10ms"
  timeout  = var.health_timeout
}
`

// output is one thing cutover printed, for the scan.
type output struct {
	label string
	data  []byte
}

// secretsRig runs cutover in-process against one copy of secretsPlan and
// keeps everything it printed.
type secretsRig struct {
	t       *testing.T
	dir     string
	outputs []output
	// stateFiles and undoFiles count what the last scan read.
	stateFiles, undoFiles int
}

func newSecretsRig(t *testing.T) *secretsRig {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"plan.hcl": secretsPlan,
		"vars.hcl": `db_password = "` + scanSecrets["-var-file db_password"] + `"` + "\n",
		"kms.key":  scanSecrets["file(kms.key)"],
		"app.env": "# app settings\nKMS_PROVIDER=local\nAPP_STATIC_SECRET_KEY=" + scanSecrets["app.env APP_STATIC_SECRET_KEY (old)"] +
			"\nAPI_TOKEN=\"" + scanSecrets["app.env API_TOKEN (old)"] + "\"\n",
	})
	return &secretsRig{t: t, dir: dir}
}

// cutover runs `cutover CMD PLAN ARGS... -var-file vars.hcl` and checks
// the exit code.
func (r *secretsRig) cutover(code int, cmd string, args ...string) string {
	r.t.Helper()
	argv := append([]string{"cutover", cmd, filepath.Join(r.dir, "plan.hcl"), "-var-file", filepath.Join(r.dir, "vars.hcl")}, args...)
	var stdout, stderr bytes.Buffer
	got := Main(argv, strings.NewReader(""), &stdout, &stderr)
	label := strings.Join(append([]string{cmd}, args...), " ")
	r.outputs = append(r.outputs, output{label + ": stdout", stdout.Bytes()}, output{label + ": stderr", stderr.Bytes()})
	if got != code {
		r.t.Fatalf("cutover %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", label, got, code, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// scan searches every output and every file of the state directory except
// undo/ for every secret; undo files must be 0600.
func (r *secretsRig) scan() {
	r.t.Helper()
	r.undoFiles = 0
	state := filepath.Join(r.dir, ".cutover", "secrets")
	inUndo := func(rel string) bool {
		return strings.Contains(string(filepath.Separator)+rel+string(filepath.Separator), string(filepath.Separator)+"undo"+string(filepath.Separator))
	}
	if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
		state = r.t.TempDir() // nothing was written: scan the outputs only
	}
	files := readTree(r.t, state, inUndo)
	var undo []string
	all := append([]output(nil), r.outputs...)
	for name, data := range readTree(r.t, state, nil) {
		if inUndo(name) {
			undo = append(undo, name)
		}
		if inUndo(name) && strings.Contains(name, ".shape-") {
			// what an env step wrote, for a rollback's diff: no secret either
			all = append(all, output{"undo file " + name, []byte(data)})
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		all = append(all, output{"state file " + name, []byte(files[name])})
	}
	r.stateFiles = len(names)
	for what, secret := range scanSecrets {
		for _, o := range all {
			if n := bytes.Count(o.data, []byte(secret)); n > 0 {
				r.t.Errorf("%s holds the secret from %s (%d times)", o.label, what, n)
			}
		}
	}
	for _, name := range undo {
		fi, err := os.Stat(filepath.Join(state, name))
		if err != nil {
			r.t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			r.t.Errorf("undo file %s has mode %o, want 0600", name, fi.Mode().Perm())
		}
		r.undoFiles++
	}
}

func (r *secretsRig) read(name string) string {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(data)
}

// TestSecretsNeverPrinted runs plans that carry secrets through every input
// path, on every command and outcome, and finds none of them in stdout,
// stderr or the state directory (undo/ aside, which holds the env files'
// original bytes by design).
func TestSecretsNeverPrinted(t *testing.T) {
	t.Setenv("HEALTH_URL", healthServer(t))
	t.Setenv("CUTOVER_VAR_token", scanSecrets["CUTOVER_VAR_token"])
	apiKey := "api_key=" + scanSecrets["-var api_key"]

	t.Run("success then rollback", func(t *testing.T) {
		r := newSecretsRig(t)
		r.cutover(ExitOK, "validate", "-var", apiKey)
		r.cutover(ExitOK, "plan", "-var", apiKey)
		r.cutover(ExitOK, "plan", "-var", apiKey, "--json")
		r.cutover(ExitOK, "run", "-var", apiKey, "--dry-run")
		r.cutover(ExitOK, "status", "-var", apiKey)
		r.cutover(ExitOK, "run", "-var", apiKey)
		// the secrets did flow: into the env file, and through the command
		env := r.read("app.env")
		for _, s := range []string{scanSecrets["-var api_key"], scanSecrets["-var-file db_password"], scanSecrets["CUTOVER_VAR_token"], scanSecrets["file(kms.key)"]} {
			if !strings.Contains(env, s) {
				t.Fatalf("app.env after the run does not hold a secret the plan sets:\n%s", env)
			}
		}
		if log := r.read(".cutover/secrets/logs/exec.echo.log"); !strings.Contains(log, "token=(sensitive) db=(sensitive)") || !strings.Contains(log, "key=(sensitive)") {
			t.Errorf("exec log %q: the command's output is not masked", log)
		}
		r.cutover(ExitOK, "status", "-var", apiKey)
		r.cutover(ExitOK, "status", "-var", apiKey, "--json")
		r.cutover(ExitOK, "rollback", "-var", apiKey)
		if env := r.read("app.env"); !strings.Contains(env, scanSecrets["app.env APP_STATIC_SECRET_KEY (old)"]) {
			t.Fatalf("the rollback did not restore app.env:\n%s", env)
		}
		r.cutover(ExitOK, "status", "-var", apiKey, "--json")
		r.cutover(ExitOK, "run", "-var", apiKey) // archives the rolled-back run
		r.cutover(ExitOK, "status", "-var", apiKey)
		r.scan()
		if r.stateFiles < 5 {
			t.Errorf("only %d state files scanned", r.stateFiles)
		}
		// the scan would have seen the undo blobs: the current run's and the
		// archived one's, each the original (holding the old secret, by
		// design, kept 0600) and the shape of what was written (no secret)
		if r.undoFiles != 4 {
			t.Errorf("%d undo files checked, want 4 (the current run's and the archived run's)", r.undoFiles)
		}
		blobs := readTree(t, filepath.Join(r.dir, ".cutover/secrets/undo"), nil)
		if !strings.Contains(blobs["env.switch.file-0"], scanSecrets["app.env APP_STATIC_SECRET_KEY (old)"]) {
			t.Errorf("undo blobs %v: want env.switch.file-0 with the original file", len(blobs))
		}
	})

	t.Run("health check fails with the secret in its URL", func(t *testing.T) {
		r := newSecretsRig(t)
		// the redo of the failing check fails the rollback too
		out := r.cutover(ExitFailed, "run", "-var", apiKey, "-var", "health_path=fail", "-var", "health_timeout=100ms")
		if !strings.Contains(out, "health_check.ready") || !strings.Contains(out, "status 503") {
			t.Fatalf("the failure is not reported:\n%s", out)
		}
		r.cutover(ExitOK, "status", "-var", apiKey, "-var", "health_path=fail", "-var", "health_timeout=100ms")
		r.cutover(ExitOK, "status", "-var", apiKey, "-var", "health_path=fail", "-var", "health_timeout=100ms", "--json")
		r.cutover(ExitFailed, "rollback", "-var", apiKey, "-var", "health_path=fail", "-var", "health_timeout=100ms", "--json")
		r.scan()
	})

	t.Run("exec fails echoing secrets, then its compensation fails", func(t *testing.T) {
		r := newSecretsRig(t)
		writeFiles(t, r.dir, map[string]string{"undo-exit": "4\n"})
		out := r.cutover(ExitFailed, "run", "-var", apiKey, "-var", "echo_exit=3")
		if !strings.Contains(out, "exited with status 3") || !strings.Contains(out, "exited with status 4") {
			t.Fatalf("the failures are not reported:\n%s", out)
		}
		r.cutover(ExitOK, "status", "-var", apiKey, "-var", "echo_exit=3")
		r.cutover(ExitOK, "status", "-var", apiKey, "-var", "echo_exit=3", "--json")
		os.Remove(filepath.Join(r.dir, "undo-exit"))
		r.cutover(ExitOK, "rollback", "-var", apiKey, "-var", "echo_exit=3")
		r.scan()
	})

	t.Run("validation message quotes the secret", func(t *testing.T) {
		r := newSecretsRig(t)
		short := "api_key=" + scanSecrets["-var api_key (fails validation)"]
		out := r.cutover(ExitUsage, "validate", "-var", short)
		if !strings.Contains(out, "api_key (sensitive) is too short.") {
			t.Errorf("the validation message is not shown masked:\n%s", out)
		}
		r.cutover(ExitUsage, "run", "-var", short)
		r.cutover(ExitUsage, "plan", "-var", short, "--json")
		if _, err := os.Stat(filepath.Join(r.dir, ".cutover")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a plan with errors wrote a state directory: %v", err)
		}
		r.scan()
	})
}
