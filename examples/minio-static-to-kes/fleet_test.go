package miniostatictokes_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/faultpoint"
	"github.com/cutover/cutover/internal/testing/fleet"
	ex "github.com/cutover/cutover/internal/testing/minioexamples"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/minio"
)

// TestMain fails the package if a fleet left a namespace, link or
// process behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := fleet.Leftovers(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// fleetRig is fleet.hcl's world: a 4-node distributed MinIO on its static
// key, each node with its own sshd and /etc/default/minio; Vault and KES
// on the operator's machine (KES reachable from the nodes at the same
// address); the real cutover binary.
type fleetRig struct {
	f        *fleet.Fleet
	kes      *testenv.KESServer
	bin      string
	key      []byte
	original []byte // every node's env file on the static key
	objs     []ex.Object
	vars     ex.Vars  // non-sensitive, as -var flags
	secrets  []string // sensitive, as CUTOVER_VAR_ variables
	dir      string
}

func newFleetRig(t *testing.T) *fleetRig {
	r := &fleetRig{key: make([]byte, 32), dir: t.TempDir()}
	if _, err := rand.Read(r.key); err != nil {
		t.Fatal(err)
	}
	r.bin = testenv.CutoverBinary(t)
	v := testenv.Vault(t)
	r.kes = testenv.KES(t, testenv.KESOptions{Vault: v})
	role, secret := v.AppRole(t, "cutover-read", fmt.Sprintf(`path "%[1]s/data/%[2]s/*" { capabilities = ["read"] }
path "%[1]s/metadata/%[2]s" { capabilities = ["list"] }
`, r.kes.Engine, r.kes.Prefix))
	r.f = fleet.Start(t, fleet.Options{Nodes: 4, MinIO: true, KMSEnv: testenv.StaticKeyEnv(keyName, r.key)})
	if err := r.f.Expose(strings.TrimPrefix(r.kes.Endpoint, "https://")); err != nil {
		t.Fatal(err)
	}
	n1 := r.f.Nodes[0]
	ex.MakeBuckets(t, n1, buckets...)
	r.objs = ex.PutObjects(t, n1, "before", 120, buckets...)
	r.original = r.envFile(t, n1)
	recipient, idFile := ex.AgeIdentity(t, r.dir)
	var nodes []string
	for _, n := range r.f.Nodes {
		nodes = append(nodes, n.Addr)
	}
	r.vars = ex.Vars{
		"nodes": ex.HCLList(nodes...), "ssh_user": r.f.User, "ssh_identity_file": r.f.IdentityFile,
		"restart_command": ex.HCLList(n1.RestartCommand()...), "minio_access_key": r.f.RootUser,
		"buckets": ex.HCLList(buckets...), "kes_endpoint": r.kes.Endpoint, "kes_ca_file": r.kes.CAFile,
		"key_name": keyName, "vault_endpoint": v.Addr, "vault_engine": r.kes.Engine, "vault_prefix": r.kes.Prefix,
		"vault_role_id": role, "backup_recipients": ex.HCLList(recipient), "backup_identity_file": idFile,
	}
	r.secrets = []string{
		"static_key", testenv.StaticKeyEnv(keyName, r.key)[0][len("MINIO_KMS_SECRET_KEY="):],
		"minio_secret_key", r.f.RootPassword, "kes_api_key", r.kes.APIKey, "vault_secret_id", secret,
	}
	return r
}

// envFile reads n's /etc/default/minio.
func (r *fleetRig) envFile(t *testing.T, n *fleet.Node) []byte {
	t.Helper()
	b, err := n.ReadFile(fleet.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// knownHosts writes a known_hosts file with every node's current key.
func (r *fleetRig) knownHosts(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, n := range r.f.Nodes {
		line, err := n.SSH.KnownHostsLine()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(line)
	}
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// command prepares `cutover run` of a copy of fleet.hcl in a new
// directory (its state directory goes there) with knownHosts and the
// rig's inputs, sensitive ones only in the environment.
func (r *fleetRig) command(t *testing.T, knownHosts string, extraEnv ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fleet.hcl"), ex.ReadFile(t, "fleet.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := r.vars.With("known_hosts", knownHosts, "backup_file", filepath.Join(dir, "minio-keys.age"))
	// A loaded machine (the whole suite at once on 2 cores) can take more
	// than the default 30s to check four nodes, Vault and KES.
	args := append([]string{"run", "--preflight-timeout", "5m"}, vars.Flags()...)
	cmd := exec.Command(r.bin, append(args, "fleet.hcl")...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CUTOVER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for i := 0; i+1 < len(r.secrets); i += 2 {
		cmd.Env = append(cmd.Env, "CUTOVER_VAR_"+r.secrets[i]+"="+r.secrets[i+1])
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, dir, &out
}

// exitCode waits for cmd and returns its exit status (-1 if it could
// not be waited for or was killed by a signal).
func exitCode(cmd *exec.Cmd) int {
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// run runs cutover to its end and returns its exit status, output and
// directory.
func (r *fleetRig) run(t *testing.T, knownHosts string, extraEnv ...string) (int, string, string) {
	t.Helper()
	cmd, dir, out := r.command(t, knownHosts, extraEnv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code := exitCode(cmd)
	t.Logf("cutover run: exit %d\n%s", code, out)
	return code, out.String(), dir
}

// onStaticKey checks the fleet is as before any run: every node's file
// byte for byte, MinIO on every node running with the static key and
// healthy, not frozen, KES without the key, every object readable through
// every node.
func (r *fleetRig) onStaticKey(t *testing.T) {
	t.Helper()
	for _, n := range r.f.Nodes {
		if got := r.envFile(t, n); !bytes.Equal(got, r.original) {
			t.Errorf("%s: %s differs from the original:\n%s", n.Name, fleet.EnvFile, got)
		}
		fi, err := n.Stat(fleet.EnvFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s: %s lost its mode 0640 or owner root: %v", n.Name, fleet.EnvFile, fi.Mode())
		}
		env, err := n.MinIOEnv()
		if err != nil {
			t.Fatal(err)
		}
		if !hasPrefix(env, "MINIO_KMS_SECRET_KEY="+keyName+":") || hasPrefix(env, "MINIO_KMS_KES_") {
			t.Errorf("%s: MinIO does not run on its static key alone: %q", n.Name, kmsVars(env))
		}
	}
	if err := r.f.WaitHealthy(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.kes.DescribeKey(keyName); err == nil {
		t.Errorf("KES holds %s: the rollback did not delete the key the run imported", keyName)
	}
	r.notFrozen(t)
	for _, n := range r.f.Nodes {
		ex.CheckObjects(t, n, r.objs)
	}
}

// notFrozen fails t if the cluster holds S3 requests.
func (r *fleetRig) notFrozen(t *testing.T) {
	t.Helper()
	n1 := r.f.Nodes[0]
	c := &minio.Config{Name: "minio.n1", Endpoint: n1.MinIOEndpoint(), AccessKey: r.f.RootUser, SecretKey: r.f.RootPassword}
	if frozen, err := c.Frozen(context.Background(), minio.FrozenWait); err != nil || frozen {
		t.Errorf("MinIO frozen=%v (%v), want serving S3 requests", frozen, err)
	}
}

// hasPrefix reports whether an element of env starts with prefix.
func hasPrefix(env []string, prefix string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			return true
		}
	}
	return false
}

// kmsVars lists the names of env's MINIO_KMS_ variables (never values).
func kmsVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "MINIO_KMS_") {
			out = append(out, name)
		}
	}
	return out
}

// noCheckpoint fails t if a refused run left a checkpoint in dir.
func noCheckpoint(t *testing.T, dir string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, ".cutover", "*", "state.json"))
	if len(matches) > 0 {
		t.Errorf("a refused run wrote %v", matches)
	}
}

// digest is the SHA-256 of b in hex.
func digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// TestFleetStaticToKES runs fleet.hcl with the real binary over SSH
// against a 4-node distributed MinIO: the refusals and the dropped node
// first (each leaves the cluster on its static key), the cutover last.
func TestFleetStaticToKES(t *testing.T) {
	r := newFleetRig(t)
	t.Run("changed host key refused at preflight", func(t *testing.T) { r.hostKeyChanged(t) })
	t.Run("env file differs refused at preflight", func(t *testing.T) { r.envDiffers(t) })
	t.Run("sshd killed during env step", func(t *testing.T) { r.sshdKilledDuringEnv(t) })
	t.Run("cutover", func(t *testing.T) { r.cutover(t) })
}

// hostKeyChanged: n2 gets a new host key after known_hosts was written;
// the run is refused before anything changes, showing the new key's
// fingerprint.
func (r *fleetRig) hostKeyChanged(t *testing.T) {
	known := r.knownHosts(t)
	n2 := r.f.Nodes[1]
	if err := n2.RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	code, out, dir := r.run(t, known)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (refused)", code)
	}
	for _, want := range []string{"n2", n2.SSH.HostKeyFingerprint} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %q", want)
		}
	}
	noCheckpoint(t, dir)
	r.onStaticKey(t)
}

// envDiffers: n3's file has a local edit; the run is refused naming n3
// and both digests, and nothing changes.
func (r *fleetRig) envDiffers(t *testing.T) {
	n3 := r.f.Nodes[2]
	edited := append(append([]byte{}, r.original...), "# edited by hand on n3\n"...)
	if err := n3.WriteFile(fleet.EnvFile, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n3.WriteFile(fleet.EnvFile, r.original, 0o640); err != nil {
			t.Fatal(err)
		}
	}()
	code, out, dir := r.run(t, r.knownHosts(t))
	if code != 1 {
		t.Fatalf("exit %d, want 1 (refused)", code)
	}
	for _, want := range []string{"n3", digest(r.original)[:12], digest(edited)[:12]} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %q", want)
		}
	}
	noCheckpoint(t, dir)
	if got := r.envFile(t, n3); !bytes.Equal(got, edited) {
		t.Errorf("n3's edited file was changed by a refused run")
	}
}

// sshdKilledDuringEnv pauses the env step's write to n4 (every node's
// original saved, the other nodes writing theirs meanwhile), kills n4's
// sshd and every session on it, and lets cutover go on: the run fails,
// the nodes that changed are restored byte for byte, and MinIO is back on
// its static key on all four.
func (r *fleetRig) sshdKilledDuringEnv(t *testing.T) {
	n4 := r.f.Nodes[3]
	before := r.inodes(t)
	defer func() {
		if err := n4.StartSSHD(); err != nil {
			t.Fatal(err)
		}
	}()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, dir, out := r.command(t, r.knownHosts(t),
		faultpoint.EnvVar+"=pause@before-replace:env.kms:n4", faultpoint.FIFOVar+"="+fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan int, 1)
	go func() { ended <- exitCode(cmd) }()
	if err := waitPaused(fifo, ended, 5*time.Minute); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("%v\n%s", err, out)
	}
	if err := n4.KillSSHD(); err != nil {
		t.Fatal(err)
	}
	if err := release(fifo, 30*time.Second); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-ended:
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("cutover still runs 5 minutes after the node dropped:\n%s", out)
	}
	t.Logf("cutover run: exit %d\n%s", code, out)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (failed and rolled back)", code)
	}
	for _, state := range []string{"n1: written", "n2: written", "n3: written", "n4: not written"} {
		if !strings.Contains(out.String(), state) {
			t.Errorf("the report does not give the node state %q", state)
		}
	}
	// An atomic replace makes a new file (a new inode, or a freed one
	// reused, with a new change time): n1..n3 were written and restored
	// by a second replace, n4's file was never touched.
	after := r.inodes(t)
	for i, n := range r.f.Nodes {
		if replaced := after[i] != before[i]; replaced != (n != n4) {
			t.Errorf("%s: file replaced %v, want %v", n.Name, replaced, n != n4)
		}
	}
	r.onStaticKey(t)
	ex.NoSecrets(t, filepath.Join(dir, ".cutover"), r.secretValues()...)
}

// waitPaused waits until cutover says "paused" on the fault point's FIFO,
// failing if it ends first or timeout passes.
func waitPaused(fifo string, ended chan int, timeout time.Duration) error {
	said := make(chan string, 1)
	go func() { b, _ := os.ReadFile(fifo); said <- string(b) }()
	select {
	case s := <-said:
		if s != "paused\n" {
			return fmt.Errorf("fault point FIFO said %q", s)
		}
		return nil
	case code := <-ended:
		ended <- code
		_ = release(fifo, time.Second) // ends the reader above
		return fmt.Errorf("cutover ended (exit %d) before its fault point", code)
	case <-time.After(timeout):
		_ = release(fifo, time.Second)
		return fmt.Errorf("cutover did not reach its fault point within %v", timeout)
	}
}

// release opens the FIFO for writing and closes it: the paused process
// (reading it to its end) goes on. It fails if nobody reads it in time.
func release(fifo string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return f.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("releasing the fault point: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fileID is what tells a replaced file: its inode and change time.
type fileID struct {
	ino   uint64
	ctime syscall.Timespec
}

// inodes returns each node's env file's inode and change time.
func (r *fleetRig) inodes(t *testing.T) []fileID {
	t.Helper()
	var out []fileID
	for _, n := range r.f.Nodes {
		fi, err := n.Stat(fleet.EnvFile)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		out = append(out, fileID{st.Ino, st.Ctim})
	}
	return out
}

// secretValues are the sensitive inputs' values.
func (r *fleetRig) secretValues() []string {
	var out []string
	for i := 1; i < len(r.secrets); i += 2 {
		out = append(out, r.secrets[i])
	}
	return out
}

// cutover runs fleet.hcl to its end: every node's file on KES, every
// MinIO restarted with it, every object read back through every node,
// S3 traffic flowing, no secret in the state directory.
func (r *fleetRig) cutover(t *testing.T) {
	code, out, dir := r.run(t, r.knownHosts(t))
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	first := r.envFile(t, r.f.Nodes[0])
	for _, n := range r.f.Nodes {
		if got := r.envFile(t, n); !bytes.Equal(got, first) {
			t.Errorf("%s's file differs from n1's after the run", n.Name)
		}
		env, err := n.MinIOEnv()
		if err != nil {
			t.Fatal(err)
		}
		if hasPrefix(env, "MINIO_KMS_SECRET_KEY=") || !hasPrefix(env, "MINIO_KMS_KES_KEY_NAME="+keyName) {
			t.Errorf("%s: MinIO does not run on KES: %q", n.Name, kmsVars(env))
		}
	}
	if _, err := r.kes.DescribeKey(keyName); err != nil {
		t.Errorf("KES does not hold %s: %v", keyName, err)
	}
	r.notFrozen(t)
	after := ex.PutObjects(t, r.f.Nodes[1], "after", 12, buckets...)
	for _, n := range r.f.Nodes {
		ex.CheckObjects(t, n, append(append([]ex.Object{}, r.objs...), after...))
	}
	for _, step := range []string{"validate_objects.via_n1", "validate_objects.via_n4", "restart.minio"} {
		if !strings.Contains(out, step) {
			t.Errorf("the output does not mention %s", step)
		}
	}
	ex.NoSecrets(t, filepath.Join(dir, ".cutover"), r.secretValues()...)
}
