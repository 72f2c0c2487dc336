package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cutover/cutover/internal/faultpoint"
	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/testing/fleet"
)

// fleetRig is three loopback sshd's standing for hosts a, b and c, each
// with its own directory ROOT/<name> holding its app.env, and the plan's
// host blocks for them.
type fleetRig struct {
	t     *testing.T
	bin   string
	dir   string // the plan's directory
	root  string // ROOT: one directory per host
	hosts map[string]*fleet.SSHServer
	names []string
	// outputs are everything cutover printed, for the secret scan.
	outputs []string
}

const fleetSecret = "fleet-s3cr3t-token-value"

// fleetEnv is every node's env file before the run: comments, quoting and
// a missing final newline that the edit must keep byte for byte.
const fleetEnv = "# app settings\nKMS_PROVIDER=local\nAPI_TOKEN='old-token'\nLOG_LEVEL=info # keep"

var (
	fleetBinOnce sync.Once
	fleetBin     string
	fleetBinErr  error
)

// fleetCutover builds the cutover binary once for the fleet tests.
func fleetCutover(t *testing.T) string {
	fleetBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cutover-fleet-bin-")
		if err != nil {
			fleetBinErr = err
			return
		}
		fleetBin = filepath.Join(dir, "cutover")
		out, err := exec.Command("go", "build", "-o", fleetBin, "github.com/cutover/cutover/cmd/cutover").CombinedOutput()
		if err != nil {
			fleetBinErr = fmt.Errorf("build cutover: %v\n%s", err, out)
		}
	})
	if fleetBinErr != nil {
		t.Fatal(fleetBinErr)
	}
	return fleetBin
}

func newFleetRig(t *testing.T) *fleetRig {
	r := &fleetRig{t: t, bin: fleetCutover(t), dir: t.TempDir(), root: t.TempDir(), hosts: map[string]*fleet.SSHServer{}, names: []string{"a", "b", "c"}}
	for _, n := range r.names {
		r.hosts[n] = fleet.SSHD(t)
		if err := os.MkdirAll(filepath.Join(r.root, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.envPath(n), []byte(fleetEnv), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *fleetRig) envPath(node string) string { return filepath.Join(r.root, node, "app.env") }

// hostBlocks declares a, b, c and the group app.
func (r *fleetRig) hostBlocks() string {
	var b strings.Builder
	for _, n := range r.names {
		s := r.hosts[n]
		fmt.Fprintf(&b, "host %q {\n  address = %q\n  port = %d\n  user = %q\n  identity_file = %q\n  known_hosts = %q\n  connect_timeout = \"60s\"\n}\n\n",
			n, s.Host, s.Port, s.User, s.IdentityFile, s.KnownHostsFile)
	}
	b.WriteString("group \"app\" {\n  hosts = [host.a, host.b, host.c]\n}\n\n")
	b.WriteString("variable \"token\" {\n  sensitive = true\n}\n\n")
	return b.String()
}

// envStep is the env step on every host, setting the sensitive token.
func (r *fleetRig) envStep() string {
	return fmt.Sprintf(`step "env" "switch" {
  on    = group.app
  files = ["%s/${node.name}/app.env"]
  set   = { KMS_PROVIDER = "aws", API_TOKEN = var.token }
}
`, r.root)
}

func (r *fleetRig) writePlan(steps string) string {
	path := filepath.Join(r.dir, "plan.hcl")
	src := "cutover \"fleet\" {}\n\n" + r.hostBlocks() + steps
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// start starts cutover with args and extra environment; wait collects it.
// plan and run get a long preflight deadline: each host's checks are SSH
// sessions, slow on a loaded machine.
func (r *fleetRig) start(env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	if args[0] == "plan" || args[0] == "run" {
		args = append([]string{args[0], "--preflight-timeout", "5m"}, args[1:]...)
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CUTOVER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "CUTOVER_VAR_token="+fleetSecret), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

// run runs cutover and checks its exit code; it returns stdout+stderr.
func (r *fleetRig) run(code int, env []string, args ...string) string {
	r.t.Helper()
	cmd, stdout, stderr := r.start(env, args...)
	_ = cmd.Wait()
	out := stdout.String() + stderr.String()
	r.outputs = append(r.outputs, out)
	if got := cmd.ProcessState.ExitCode(); got != code {
		r.t.Fatalf("cutover %v exited %d, want %d\n%s", args, got, code, out)
	}
	return out
}

// original checks every node's file is byte for byte as before the run,
// with its mode.
func (r *fleetRig) original(nodes ...string) {
	r.t.Helper()
	for _, n := range nodes {
		data, meta, err := fsutil.ReadFile(r.envPath(n))
		if err != nil || string(data) != fleetEnv || meta.Mode != 0o640 {
			r.t.Errorf("node %s: %q mode %v err %v; want the original bytes, mode 0640", n, data, meta.Mode, err)
		}
	}
}

// noSecret checks the secret appears in no output and no file of the state
// directory but undo/ (the saved originals, 0600).
func (r *fleetRig) noSecret() {
	r.t.Helper()
	for _, out := range r.outputs {
		if strings.Contains(out, fleetSecret) {
			r.t.Errorf("output holds the secret:\n%s", out)
		}
	}
	_ = filepath.Walk(filepath.Join(r.dir, ".cutover"), func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			if fi != nil && fi.Name() == "undo" {
				return filepath.SkipDir
			}
			return err
		}
		if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(fleetSecret)) {
			r.t.Errorf("%s holds the secret", path)
		}
		return nil
	})
	for _, n := range r.names {
		if strings.Contains(r.hosts[n].Log(), fleetSecret) {
			r.t.Errorf("sshd log of %s holds the secret", n)
		}
	}
}

// pauseAt arms a pause@point fault point: the returned function waits
// until cutover is there, runs fn, and lets it go on.
func (r *fleetRig) pauseAt(point string) ([]string, func(fn func())) {
	fifo := filepath.Join(r.t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		r.t.Fatal(err)
	}
	env := []string{faultpoint.EnvVar + "=pause@" + point, faultpoint.FIFOVar + "=" + fifo}
	return env, func(fn func()) {
		if got, err := os.ReadFile(fifo); err != nil || string(got) != "paused\n" {
			r.t.Fatalf("fault point %s: read %q, %v", point, got, err)
		}
		fn()
		if err := os.WriteFile(fifo, nil, 0); err != nil {
			r.t.Fatal(err)
		}
	}
}

// TestFleetEnvOnThreeHosts: env edits each host's file over SSH with the
// local byte-exact semantics (comments, quoting, no final newline kept;
// mode kept), identical across nodes; exec runs on each host with the
// secret passed in its environment; the secret appears in no output,
// state file or sshd log.
func TestFleetEnvOnThreeHosts(t *testing.T) {
	r := newFleetRig(t)
	plan := r.writePlan(r.envStep() + `
step "exec" "check" {
  on      = group.app
  command = ["sh", "-c", "test \"$TOKEN\" = \"$(. ./app.env && echo $API_TOKEN)\" && echo token-ok-on-$(basename $PWD)"]
  dir     = "` + r.root + `/${node.name}"
  env     = { TOKEN = var.token }
}
`)
	out := r.run(0, nil, "plan", plan)
	for _, n := range r.names {
		if !strings.Contains(out, "host "+n+": connected") {
			t.Errorf("plan does not show host %s connected:\n%s", n, out)
		}
	}
	out = r.run(0, nil, "run", "--yes", plan)
	want := "# app settings\nKMS_PROVIDER=aws\nAPI_TOKEN='" + fleetSecret + "'\nLOG_LEVEL=info # keep"
	for _, n := range r.names {
		data, meta, err := fsutil.ReadFile(r.envPath(n))
		if err != nil || string(data) != want || meta.Mode != 0o640 {
			t.Errorf("node %s after the run: %q mode %v err %v", n, data, meta.Mode, err)
		}
		log, _ := os.ReadFile(filepath.Join(r.dir, ".cutover", "fleet", "logs", "exec.check.log"))
		if !strings.Contains(string(log), "["+n+"] token-ok-on-"+n) {
			t.Errorf("exec.check's log has no token-ok line for %s:\n%s", n, log)
		}
	}
	r.run(0, nil, "status", "--json", plan)
	r.noSecret()
}

// TestFleetHostKilledMidStep: host c's sshd is killed (sessions too) while
// the env step is about to write c's file: the step fails, and the
// rollback restores exactly the nodes that changed (a and b) byte for
// byte; c, never written, is left alone without being contacted; the
// report names every node's state.
func TestFleetHostKilledMidStep(t *testing.T) {
	r := newFleetRig(t)
	plan := r.writePlan(r.envStep())
	env, at := r.pauseAt("before-replace:env.switch:c")
	cmd, stdout, stderr := r.start(env, "run", "--yes", plan)
	at(func() {
		if err := r.hosts["c"].Kill(); err != nil {
			t.Fatal(err)
		}
	})
	_ = cmd.Wait()
	out := stdout.String() + stderr.String()
	r.outputs = append(r.outputs, out)
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("run exited %d, want 3 (rolled back)\n%s", code, out)
	}
	r.original(r.names...)
	for _, want := range []string{"unreachable", "nodes: a: written, b: written, c: not written", "a: restored", "b: restored", "c: never written (unchanged)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	r.noSecret()
}

// TestFleetRollbackWaitsForHost: after env changed all three nodes, c
// goes away and a later step fails: the rollback restores a and b, stops
// on c with the command to continue; once c is back, that command
// restores it, and running it again changes nothing.
func TestFleetRollbackWaitsForHost(t *testing.T) {
	r := newFleetRig(t)
	plan := r.writePlan(r.envStep() + `
step "exec" "fails" {
  command = ["false"]
}
`)
	env, at := r.pauseAt("after-done:env.switch")
	cmd, stdout, stderr := r.start(env, "run", "--yes", plan)
	at(func() {
		if err := r.hosts["c"].Kill(); err != nil {
			t.Fatal(err)
		}
	})
	_ = cmd.Wait()
	out := stdout.String() + stderr.String()
	r.outputs = append(r.outputs, out)
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("run exited %d, want 1 (rollback stopped)\n%s", code, out)
	}
	r.original("a", "b")
	if data, _ := os.ReadFile(r.envPath("c")); string(data) == fleetEnv {
		t.Fatal("c was restored while its sshd was down")
	}
	for _, want := range []string{"c: unreachable, not restored yet", "once the host is back, run cutover rollback again", "cutover rollback "} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	if err := r.hosts["c"].Start(); err != nil {
		t.Fatal(err)
	}
	out = r.run(0, nil, "rollback", "--json", plan)
	r.original(r.names...)
	if !strings.Contains(out, `"type":"rollback.action"`) || !strings.Contains(out, "c: restored, b: unchanged, a: unchanged") {
		t.Errorf("the second rollback's --json does not say c restored, b and a unchanged:\n%s", out)
	}
	r.run(0, nil, "rollback", plan)
	r.original(r.names...)
	r.noSecret()
}

// TestFleetHostKeyChanged: a host whose key changed is refused at
// preflight with the fingerprint it presents; nothing is written.
func TestFleetHostKeyChanged(t *testing.T) {
	r := newFleetRig(t)
	plan := r.writePlan(r.envStep())
	if err := r.hosts["b"].RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	out := r.run(1, nil, "run", "--yes", plan)
	if !strings.Contains(out, "host key CHANGED") || !strings.Contains(out, r.hosts["b"].HostKeyFingerprint) {
		t.Errorf("output does not refuse b's changed key with its fingerprint %s:\n%s", r.hosts["b"].HostKeyFingerprint, out)
	}
	r.original(r.names...)
	if _, err := os.Stat(filepath.Join(r.dir, ".cutover", "fleet", "state.json")); err == nil {
		t.Error("a refused preflight wrote a checkpoint")
	}
}

// TestFleetBatchesWithGate: a restart in batches of one with a health gate
// per node: b is unhealthy on the new configuration, so its gate fails and
// c is never restarted; the rollback restores every node's env file and
// restarts again exactly the nodes that were restarted (a and b), gated,
// and the report names each node's state.
func TestFleetBatchesWithGate(t *testing.T) {
	r := newFleetRig(t)
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, _ := os.ReadFile(r.envPath("b"))
		if req.URL.Path == "/b" && strings.Contains(string(data), "KMS_PROVIDER=aws") {
			http.Error(w, "replica b is unhealthy on aws", http.StatusServiceUnavailable)
		}
	}))
	defer health.Close()
	plan := r.writePlan(r.envStep() + fmt.Sprintf(`
step "restart" "app" {
  on      = group.app
  batch   = 1
  command = ["sh", "-c", "echo restart >> %s/${node.name}/restarts"]
  gate {
    url      = "%s/${node.name}"
    interval = "10ms"
    timeout  = "1s"
  }
}
`, r.root, health.URL))
	out := r.run(3, nil, "run", "--yes", plan)
	r.original(r.names...)
	restarts := func(n string) string {
		data, _ := os.ReadFile(filepath.Join(r.root, n, "restarts"))
		return string(data)
	}
	if restarts("a") != "restart\nrestart\n" || restarts("b") != "restart\nrestart\n" || restarts("c") != "" {
		t.Errorf("restarts a=%q b=%q c=%q; want a and b restarted forward and in phase 2, c never", restarts("a"), restarts("b"), restarts("c"))
	}
	for _, want := range []string{"node b: gate:", "not started: c", "nodes a: done, b: gate failed, c: not started"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
}
