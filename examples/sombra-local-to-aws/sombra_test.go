// Package sombra_test runs the examples/sombra-local-to-aws plans against the
// real demo app (examples/demoapp) under the systemd-style supervisor, with
// AWS KMS served by the in-repo emulator (internal/testing/awsemu).
package sombra_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
)

const (
	accessKey = "AKIASOMBRATEST000001"
	secretKey = "sombra-test-secret-access-key-0000000000"
	region    = "eu-west-1"
)

// rig is the app, its supervisor and the AWS emulator.
type rig struct {
	t       *testing.T
	dir     string
	demoapp string
	url     string
	envFile string
	vars    []string
}

func build(t *testing.T, pkg, out string) string {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(out, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, "./"+pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return bin
}

func (r *rig) run(args ...string) string {
	r.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, dir: t.TempDir()}
	r.demoapp = build(t, "examples/demoapp", r.dir)
	sup, err := testenv.SuperviseBinary()
	if err != nil {
		t.Fatal(err)
	}
	arn := r.emulator()
	r.envFile = filepath.Join(r.dir, "app.env")
	r.writeEnv()
	supDir := filepath.Join(r.dir, "supervise")
	cmd := exec.Command(sup, "run", "--dir", supDir, "--env-file", r.envFile, "--", r.demoapp)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(sup, "stop", "--dir", supDir).Run()
		cmd.Wait()
	})
	r.run(r.demoapp, "client", "health", "-wait", "20s", r.url)
	restart := fmt.Sprintf(`[%q, "restart", "--dir", %q]`, sup, supDir)
	r.vars = []string{"app_url=" + r.url, "env_file=" + r.envFile, "restart_command=" + restart,
		"aws_region=" + region, "aws_endpoint=" + awsEndpoint, "aws_kms_key_arn=" + arn,
		"aws_access_key_id=" + accessKey, "aws_secret_access_key=" + secretKey}
	return r
}

var awsEndpoint string

// emulator serves AWS KMS with one key for the app and returns its ARN.
func (r *rig) emulator() string {
	emu, err := awsemu.New(awsemu.Config{Region: region, AccountID: "111122223333", Credentials: map[string]string{accessKey: secretKey}})
	if err != nil {
		r.t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	r.t.Cleanup(srv.Close)
	awsEndpoint = srv.URL
	c := kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")})
	k, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		r.t.Fatal(err)
	}
	return aws.ToString(k.KeyMetadata.Arn)
}

func (r *rig) writeEnv() {
	keyFile := filepath.Join(r.dir, "local.key")
	if err := os.WriteFile(keyFile, []byte(r.run(r.demoapp, "keygen", "-type", "aes256")+"\n"), 0o600); err != nil {
		r.t.Fatal(err)
	}
	addr := r.run(r.demoapp, "freeport")
	r.url = "http://" + addr
	env := strings.Join([]string{
		"# demo app", "KMS_PROVIDER=local", "LOCAL_KMS_KEY_FILE=" + keyFile, "DATA_DIR=" + filepath.Join(r.dir, "data"),
		"LISTEN_ADDR=" + addr, "JOB_DURATION=200ms", "JWT_ECDSA_KEY=" + r.run(r.demoapp, "keygen"),
		"AWS_ENDPOINT_URL=" + awsEndpoint, "AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey,
	}, "\n") + "\n"
	if err := os.WriteFile(r.envFile, []byte(env), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) client(args ...string) (string, error) {
	out, err := exec.Command(r.demoapp, append([]string{"client"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (r *rig) mustClient(args ...string) string {
	r.t.Helper()
	out, err := r.client(args...)
	if err != nil {
		r.t.Fatalf("demoapp client %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func (r *rig) load(file string, extra ...string) *plantest.Harness {
	src, err := os.ReadFile(file)
	if err != nil {
		r.t.Fatal(err)
	}
	return plantest.Load(r.t, r.t.TempDir(), string(src), plan.Options{Vars: append(append([]string{}, r.vars...), extra...)})
}

func (r *rig) envBytes() []byte {
	b, err := os.ReadFile(r.envFile)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// TestSombraRunbook drives the seed's runbook: a rehearsal whose check fails
// rolls back (env and JWT list byte for byte, app healthy on local, old work
// readable); then the real cutover: old tokens verify, new tokens use the new
// key, new work is encrypted under AWS KMS; then `cutover rollback` refuses
// without --accept-data-loss, naming the work written under AWS, and with
// the flag rolls back to the local KMS.
func TestSombraRunbook(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	oldItem := r.mustClient("put", "-wait", "10s", r.url, "invoice #1")
	oldToken := r.mustClient("token", r.url)
	before := r.envBytes()

	rehearsal := r.load("rehearsal-fail.hcl", "old_item_id="+oldItem, "demoapp="+r.demoapp)
	if res := rehearsal.Run(ctx); res.Outcome != engine.RolledBack {
		t.Fatalf("rehearsal: %s (%v), want rolled back", res.Outcome, res.Err)
	}
	if !bytes.Equal(r.envBytes(), before) {
		t.Fatal("after the rollback the env file (KMS_PROVIDER, JWT_ECDSA_KEY) is not restored byte for byte")
	}
	if h := r.mustClient("health", r.url); !strings.Contains(h, `"kms":"local"`) {
		t.Fatalf("after the rollback: %s", h)
	}
	if got := r.mustClient("get", r.url, oldItem); got != "invoice #1" {
		t.Fatalf("old item after the rollback: %q", got)
	}

	cut := r.load("plan.hcl")
	st := cut.MustComplete(ctx)
	if _, err := r.client("verify", r.url, oldToken); err != nil {
		t.Fatal("a token signed before the cutover no longer verifies")
	}
	newKid := r.mustClient("kid", r.mustClient("token", r.url))
	if newKid != plantest.Output(st, "rotate_jwt.signing", "kid") {
		t.Fatalf("new tokens carry kid %s, the rotated key is %s", newKid, plantest.Output(st, "rotate_jwt.signing", "kid"))
	}
	newItem := r.mustClient("put", "-wait", "10s", r.url, "after the cutover")
	if list := r.mustClient("list", r.url); !strings.Contains(list, newItem+" AWS") {
		t.Fatalf("new work is not under AWS KMS:\n%s", list)
	}

	refused := cut.Rollback(ctx, false)
	if refused.Outcome != engine.Failed || !strings.Contains(fmt.Sprint(refused.Err), newItem) {
		t.Fatalf("rollback past the point of no return: %s (%v); want a refusal naming %s", refused.Outcome, refused.Err, newItem)
	}
	if res := cut.Rollback(ctx, true); res.Outcome != engine.Completed {
		t.Fatalf("rollback --accept-data-loss: %s (%v)", res.Outcome, res.Err)
	}
	if h := r.mustClient("health", "-wait", "10s", r.url); !strings.Contains(h, `"kms":"local"`) {
		t.Fatalf("after the accepted rollback: %s", h)
	}
	if _, err := r.client("get", r.url, newItem); err == nil {
		t.Fatal("work written under AWS KMS still reads after the rollback: the data-loss warning was wrong")
	}
}

// TestWindowTooShort: a window shorter than the plan's own estimate is
// refused before anything runs, and says by how much.
func TestWindowTooShort(t *testing.T) {
	r := newRig(t)
	before := r.envBytes()
	res := r.load("plan.hcl", "window=30s").Run(context.Background())
	if res.Outcome != engine.Failed || !errors.Is(res.Err, engine.ErrPreflight) || !errors.Is(res.Err, engine.ErrWindow) || !strings.Contains(res.Err.Error(), "over by") {
		t.Fatalf("outcome %s (%v), want a refusal for the window that says by how much", res.Outcome, res.Err)
	}
	if !bytes.Equal(r.envBytes(), before) {
		t.Fatal("the env file changed")
	}
	if _, err := r.client("put", "-wait", "5s", r.url, "still open"); err != nil {
		t.Fatal("work is not accepted after the window rollback")
	}
}

// TestDemo runs `make demo`'s script end to end: it must pass and leave no
// process behind.
func TestDemo(t *testing.T) {
	root, _ := testenv.RepoRoot()
	cmd := exec.Command("bash", "scripts/demo.sh")
	cmd.Dir = root
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo failed after %s: %v\n%s", time.Since(start), err, out)
	}
	for _, want := range []string{"cutover exited 3, as expected", "cutover exited 0, as expected", "the token issued before the cutover still verifies"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if ps, _ := exec.Command("pgrep", "-f", "bin/demoapp").Output(); len(bytes.TrimSpace(ps)) > 0 {
		t.Fatalf("the demo left processes behind: %s", ps)
	}
}

// TestAWSItselfWithoutEndpoint: the plan can target AWS itself. With no
// endpoint, region or credentials it validates; `cutover plan` then fails
// cleanly (exit 1) naming the missing region and credentials, and nothing
// leaves the machine: the SDK's default chain has nothing to find (no
// environment credentials, no shared files, the instance metadata service
// disabled), and every non-loopback HTTP(S) connection would go through a
// proxy that counts them, which must see none.
func TestAWSItselfWithoutEndpoint(t *testing.T) {
	r := newRig(t)
	cutover := build(t, "cmd/cutover", r.dir)
	proxy, conns := connectionCounter(t)
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"HTTPS_PROXY=" + proxy, "HTTP_PROXY=" + proxy, "https_proxy=" + proxy, "http_proxy=" + proxy}
	var args []string
	for _, v := range r.vars {
		if name, _, _ := strings.Cut(v, "="); !strings.HasPrefix(name, "aws_") || name == "aws_kms_key_arn" {
			args = append(args, "-var", v)
		}
	}
	cmd := func(extra ...string) (string, int) {
		c := exec.Command(cutover, extra...)
		c.Dir, c.Env = t.TempDir(), env
		out, _ := c.CombinedOutput()
		return string(out), c.ProcessState.ExitCode()
	}
	plan := filepath.Join(mustAbs(t, "."), "plan.hcl")

	out, code := cmd(append([]string{"validate", plan}, args...)...)
	if code != 0 || !strings.Contains(out, "is valid") {
		t.Fatalf("validate with no endpoint, region or credentials: exit %d\n%s", code, out)
	}
	out, code = cmd(append([]string{"plan", plan}, args...)...)
	if code != 1 || !strings.Contains(out, "kms.aws (aws kms): no AWS region") || !strings.Contains(out, "no AWS credentials: set access_key and secret_key") ||
		!strings.Contains(out, "cutover: error: ") || strings.Contains(out, "panic") {
		t.Errorf("plan with no region or credentials: exit %d, want 1 naming both\n%s", code, out)
	}
	out, code = cmd(append([]string{"plan", plan, "-var", "aws_region=" + region}, args...)...)
	if code != 1 || !strings.Contains(out, "no AWS credentials") || strings.Contains(out, "no AWS region") {
		t.Errorf("plan with a region and no credentials: exit %d, want 1 naming the credentials\n%s", code, out)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connection(s) left for a non-loopback host", n)
	}
	// The control: with credentials, the key check sends its request to
	// AWS itself, and the proxy (which closes it: nothing leaves) sees it.
	out, code = cmd(append([]string{"plan", plan, "-var", "aws_region=" + region, "-var", "aws_access_key_id=" + accessKey,
		"-var", "aws_secret_access_key=" + secretKey}, args...)...)
	if code != 1 || conns.Load() == 0 {
		t.Errorf("plan with credentials: exit %d, %d connection(s) through the proxy; want a failed request through it\n%s", code, conns.Load(), out)
	}
	t.Logf("with credentials, through the proxy:\n%s", out)
	if h := r.mustClient("health", r.url); !strings.Contains(h, `"kms":"local"`) {
		t.Errorf("after the refused plans: %s", h)
	}
}

// connectionCounter listens on loopback, for use as HTTP(S)_PROXY, and
// counts the connections made to it (closing each at once).
func connectionCounter(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
