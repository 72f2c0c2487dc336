package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// sharedPlan keeps its checkpoint in MinIO (STATE_ENDPOINT), encrypted to
// STATE_RECIPIENT. Its env step writes a secret into app.env; the exec
// steps record what ran in $WORK/exec.log. exec.freeze runs FREEZE (a
// command that makes the store go away, or nothing).
const sharedPlan = `cutover "shared" {}

variable "db_password" {
  sensitive = true
}

state "s3" {
  bucket         = "cutover-state"
  prefix         = env("STATE_PREFIX")
  endpoint       = env("STATE_ENDPOINT")
  recipients     = [env("STATE_RECIPIENT")]
  on_unavailable = "stop"
  timeout        = "1s"
}

step "env" "switch" {
  files = [env("APP_ENV")]
  set   = { DB_PASSWORD = var.db_password, KMS_PROVIDER = "AWS" }
}

step "exec" "x" {
  command = ["sh", "-c", "echo x >> \"$WORK/exec.log\""]
  rollback {
    command = ["sh", "-c", "echo undo-x >> \"$WORK/exec.log\""]
  }
}

step "exec" "freeze" {
  command = ["sh", "-c", "echo freeze >> \"$WORK/exec.log\"; $FREEZE"]
  rollback {
    command = ["sh", "-c", "echo undo-freeze >> \"$WORK/exec.log\""]
  }
}

step "exec" "z" {
  command = ["sh", "-c", "echo z >> \"$WORK/exec.log\""]
}
`

const (
	oldSecret = "old-db-pass-7c1e9a"
	newSecret = "new-db-pass-42f0b3"
	appEnv    = "# app\nDB_PASSWORD=" + oldSecret + "\nKMS_PROVIDER=local\n"
)

type sharedCLI struct {
	*crashRig
	m        *testenv.MinIOServer
	env      []string
	identity string
	work     string
}

func newSharedCLI(t *testing.T) *sharedCLI {
	m := testenv.MinIO(t, testenv.MinIOOptions{})
	if err := m.S3Client(t).MakeBucket(context.Background(), "cutover-state", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s := &sharedCLI{crashRig: &crashRig{t: t, bin: buildCutover(t)}, m: m, work: t.TempDir()}
	s.identity = filepath.Join(t.TempDir(), "identity.txt")
	writeFiles(t, filepath.Dir(s.identity), map[string]string{"identity.txt": id.String() + "\n"})
	writeFiles(t, s.work, map[string]string{"app.env": appEnv})
	s.env = []string{"AWS_ACCESS_KEY_ID=" + m.AccessKey, "AWS_SECRET_ACCESS_KEY=" + m.SecretKey,
		"STATE_ENDPOINT=" + m.Endpoint, "STATE_RECIPIENT=" + id.Recipient().String(),
		"APP_ENV=" + filepath.Join(s.work, "app.env"), "WORK=" + s.work, "FREEZE=true",
		"CUTOVER_VAR_db_password=" + newSecret, "CUTOVER_IDENTITY="}
	return s
}

// dir is a new working directory holding only the plan.
func (s *sharedCLI) dir() string {
	d := s.t.TempDir()
	writeFiles(s.t, d, map[string]string{"plan.hcl": sharedPlan})
	return d
}

func (s *sharedCLI) run(dir, prefix string, extra []string, args ...string) procResult {
	s.t.Helper()
	return s.cutover(dir, append(append(append([]string{}, s.env...), "STATE_PREFIX="+prefix), extra...), args...)
}

func (s *sharedCLI) execLog() string {
	data, _ := os.ReadFile(filepath.Join(s.work, "exec.log"))
	return string(data)
}

// minioPID is the MinIO process (its supervisor's child).
func (s *sharedCLI) minioPID() string {
	data, err := os.ReadFile(filepath.Join(s.m.SupervisorDir, "child.pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// scan fails the test if any object of the bucket holds a secret.
func (s *sharedCLI) scan() int {
	c := s.m.S3Client(s.t)
	n := 0
	for o := range c.ListObjects(context.Background(), "cutover-state", minio.ListObjectsOptions{Recursive: true}) {
		obj, err := c.GetObject(context.Background(), "cutover-state", o.Key, minio.GetObjectOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		data, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			s.t.Fatal(err)
		}
		n++
		for _, secret := range []string{oldSecret, newSecret} {
			if strings.Contains(string(data), secret) {
				s.t.Errorf("object %s holds a secret", o.Key)
			}
		}
	}
	return n
}

var lockIDRe = regexp.MustCompile(`state is locked by run: lock ([0-9a-f]{16}), user \S+, host \S+, pid ([0-9]+)`)

func TestSharedStateCLI(t *testing.T) {
	s := newSharedCLI(t)
	t.Run("KilledThenRollbackElsewhere", func(t *testing.T) { s.t = t; s.killedThenRollbackElsewhere() })
	t.Run("Race", func(t *testing.T) { s.t = t; s.race() })
	t.Run("StoreStoppedThenResume", func(t *testing.T) { s.t = t; s.storeStoppedThenResume() })
}

// killedThenRollbackElsewhere: a run SIGKILLed after its third step is
// rolled back from another directory holding only the plan and the age
// identity; app.env comes back byte for byte, and no object in the bucket
// holds a secret.
func (s *sharedCLI) killedThenRollbackElsewhere() {
	t := s.t
	a := s.dir()
	res := s.run(a, "killed", []string{"CUTOVER_FAULTPOINT=after-done:exec.freeze"}, "run", "plan.hcl")
	if !res.killed {
		t.Fatalf("run was not killed at after-done:exec.freeze: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(s.work, "app.env")); !strings.Contains(string(got), newSecret) {
		t.Fatalf("app.env after three steps: %q", got)
	}
	b := s.dir() // another machine: the plan only, no state
	st := s.run(b, "killed", nil, "status", "plan.hcl")
	s.want(st, 0, "status (no identity)")
	if !strings.Contains(st.stdout, "exec.freeze") || !strings.Contains(st.stdout, "locked by run") {
		t.Fatalf("status from another directory:\n%s", st.stdout)
	}
	res = s.run(b, "killed", []string{"CUTOVER_IDENTITY=" + s.identity}, "rollback", "plan.hcl")
	m := lockIDRe.FindStringSubmatch(res.stderr)
	if res.code != 1 || m == nil {
		t.Fatalf("rollback while the killed run's lock is held: exit %d\n%s", res.code, res.stderr)
	}
	s.want(s.run(b, "killed", nil, "unlock", m[1], "plan.hcl"), 0, "unlock "+m[1])
	res = s.run(b, "killed", nil, "rollback", "plan.hcl")
	if res.code != 1 || !strings.Contains(res.stderr, "no age identity was given") || !strings.Contains(res.stderr, "--identity") {
		t.Fatalf("rollback without the identity: exit %d\n%s", res.code, res.stderr)
	}
	s.want(s.run(b, "killed", []string{"CUTOVER_IDENTITY=" + s.identity}, "rollback", "plan.hcl"), 0, "rollback with the identity")
	if got, _ := os.ReadFile(filepath.Join(s.work, "app.env")); string(got) != appEnv {
		t.Fatalf("app.env after the rollback from another directory:\n%q\nwant\n%q", got, appEnv)
	}
	if log := s.execLog(); log != "x\nfreeze\nundo-freeze\nundo-x\n" {
		t.Fatalf("exec.log = %q", log)
	}
	if n := s.scan(); n < 5 {
		t.Fatalf("only %d objects in the bucket", n)
	}
	os.Remove(filepath.Join(s.work, "exec.log"))
}

// race: two cutover processes in two directories run the same plan at
// once; exactly one takes the lock, the other is refused naming it.
func (s *sharedCLI) race() {
	t := s.t
	writeFiles(t, s.work, map[string]string{"wait.sh": "while [ ! -e \"$WORK/go\" ]; do sleep 0.02; done\n"})
	wait := []string{"FREEZE=sh " + filepath.Join(s.work, "wait.sh")}
	dirs := []string{s.dir(), s.dir()}
	for round := 0; round < 5; round++ {
		type done struct {
			i   int
			res procResult
		}
		results := make(chan done, 2)
		for i, d := range dirs {
			go func() { results <- done{i, s.runAsync(d, "race", wait, "run", "plan.hcl")} }()
		}
		first := <-results
		m := lockIDRe.FindStringSubmatch(first.res.stderr)
		if first.res.code != 1 || m == nil {
			t.Fatalf("round %d: the first process to end was not refused by the lock: exit %d\n%s", round, first.res.code, first.res.stderr)
		}
		writeFiles(t, s.work, map[string]string{"go": ""})
		second := <-results
		if second.res.code != 0 || m[2] != strconv.Itoa(second.res.pid) {
			t.Fatalf("round %d: winner exit %d pid %d; the loser named pid %s\n%s", round, second.res.code, second.res.pid, m[2], second.res.stderr)
		}
		s.want(s.run(dirs[second.i], "race", nil, "reset", "plan.hcl"), 0, "reset")
		os.Remove(filepath.Join(s.work, "go"))
		writeFiles(t, s.work, map[string]string{"app.env": appEnv})
	}
	os.Remove(filepath.Join(s.work, "exec.log"))
}

// runAsync is run for a goroutine: failures are returned, not fatal.
func (s *sharedCLI) runAsync(dir, prefix string, extra []string, args ...string) procResult {
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(append(os.Environ(), s.env...), "STATE_PREFIX="+prefix), extra...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	return procResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
}

// storeStoppedThenResume: MinIO is frozen (SIGSTOP) by the plan's third
// step; the run stops before the next step (on_unavailable = "stop") with
// its local copy; once MinIO runs again, `cutover run` from the same
// directory pushes the copy and completes; another directory reads a
// completed run whose audit log records each step once.
func (s *sharedCLI) storeStoppedThenResume() {
	t := s.t
	a := s.dir()
	pid := s.minioPID()
	thawed := false
	defer func() {
		if !thawed {
			_ = exec.Command("kill", "-CONT", pid).Run()
		}
	}()
	res := s.run(a, "stopped", []string{"FREEZE=kill -STOP " + pid}, "run", "plan.hcl")
	if res.code != 1 || !strings.Contains(res.stderr, "became unreachable") || !strings.Contains(res.stderr, "local copy") {
		t.Fatalf("run with the store stopped: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if log := s.execLog(); log != "x\nfreeze\n" {
		t.Fatalf("steps after the store went away: exec.log = %q\n%s\n%s", log, res.stdout, res.stderr)
	}
	if err := exec.Command("kill", "-CONT", pid).Run(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	s.want(s.run(a, "stopped", []string{"CUTOVER_IDENTITY=" + s.identity}, "run", "plan.hcl"), 0, "resume")
	if log := s.execLog(); log != "x\nfreeze\nz\n" {
		t.Fatalf("exec.log after the resume = %q", log)
	}
	b := s.dir()
	st := s.run(b, "stopped", nil, "status", "--json", "plan.hcl")
	s.want(st, 0, "status --json")
	var state struct {
		Phase string
		Steps []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(st.stdout), &state); err != nil || state.Phase != "completed" {
		t.Fatalf("status from another directory: %v\n%s", err, st.stdout)
	}
	// the audit log, as the store holds it, records every step done once
	lb := s.run(b, "stopped", []string{"CUTOVER_IDENTITY=" + s.identity}, "run", "plan.hcl")
	s.want(lb, 0, "run of a completed plan")
	f, err := os.Open(filepath.Join(b, ".cutover", "shared", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Event, Step string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if rec.Event == "step.done" {
			done[rec.Step]++
		}
	}
	for _, id := range []string{"env.switch", "exec.x", "exec.freeze", "exec.z"} {
		if done[id] != 1 {
			t.Errorf("audit records %s done %d times", id, done[id])
		}
	}
	s.scan()
}
