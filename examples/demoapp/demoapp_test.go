package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cutover/cutover/examples/demoapp/app"
	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/testenv"
)

// The tests run the real binaries: demoapp and awsemu are built once by
// TestMain into a temporary directory.
var demoappBin, awsemuBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demoapp-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	demoappBin, awsemuBin = filepath.Join(dir, "demoapp"), filepath.Join(dir, "awsemu")
	for pkg, out := range map[string]string{".": demoappBin, "../../cmd/awsemu": awsemuBin} {
		args := []string{"build", "-o", out}
		if os.Getenv("DEMOAPP_TEST_RACE") == "1" { // the binaries with the race detector
			args = append(args, "-race")
		}
		cmd := exec.Command(goCommand(), append(args, pkg)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, msg)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

const (
	awsRegion    = "eu-west-1"
	awsAccessKey = "AKIADEMOAPPTEST00001"
	awsSecretKey = "demoapp/test/aws+secret+key"
)

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is one test's world: a data directory, a local key, JWT keys, an
// AWS KMS emulator with one key, and everything the processes and the
// server printed or answered, scanned for key material when the test ends.
type fixture struct {
	t            *testing.T
	dir          string
	dataDir      string
	localKeyFile string
	localKey     string // base64, as in the file
	jwtOld       string
	jwtNew       string
	emu          *awsemu.Emulator
	emuURL       string
	kms          *kms.Client
	arn          string

	mu   sync.Mutex
	seen []interface{ String() string }
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, dataDir: filepath.Join(dir, "data"), localKeyFile: filepath.Join(dir, "local.key")}
	var err error
	if f.localKey, err = app.GenerateLocalKey(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.localKeyFile, []byte(f.localKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f.jwtOld, err = app.GenerateJWTKey(); err != nil {
		t.Fatal(err)
	}
	if f.jwtNew, err = app.GenerateJWTKey(); err != nil {
		t.Fatal(err)
	}
	f.emu, err = awsemu.New(awsemu.Config{Region: awsRegion, AccountID: "111122223333",
		Credentials: map[string]string{awsAccessKey: awsSecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.emu)
	t.Cleanup(srv.Close)
	f.emuURL = srv.URL
	f.kms = kms.NewFromConfig(aws.Config{Region: awsRegion,
		Credentials: credentials.NewStaticCredentialsProvider(awsAccessKey, awsSecretKey, "")},
		func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	out, err := f.kms.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("demoapp test")})
	if err != nil {
		t.Fatal(err)
	}
	f.arn = aws.ToString(out.KeyMetadata.Arn)
	t.Cleanup(f.checkNoKeyMaterial)
	return f
}

// secrets are the key material of the fixture, as configured.
func (f *fixture) secrets() []string {
	return []string{f.localKey, f.jwtOld, f.jwtNew, awsSecretKey}
}

// checkNoKeyMaterial fails the test if any output or answer holds a
// secret, whole or its last 24 characters (the first ones of a PKCS#8 key
// are the same ASN.1 header for every P-256 key).
func (f *fixture) checkNoKeyMaterial() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, out := range f.seen {
		s := out.String()
		for _, secret := range f.secrets() {
			if strings.Contains(s, secret[len(secret)-24:]) {
				f.t.Errorf("key material (%.6s...) in output or answer:\n%s", secret, s)
			}
		}
	}
}

func (f *fixture) record(s interface{ String() string }) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, s)
}

type str string

func (s str) String() string { return string(s) }

// env returns a configuration for provider with JWT_ECDSA_KEY=jwt.
func (f *fixture) env(provider, jwt string, extra ...string) []string {
	env := []string{
		"DATA_DIR=" + f.dataDir, "KMS_PROVIDER=" + provider, "JWT_ECDSA_KEY=" + jwt, "JOB_DURATION=200ms",
		"LOCAL_KMS_KEY_FILE=" + f.localKeyFile,
		"AWS_KMS_KEY_ARN=" + f.arn, "AWS_REGION=" + awsRegion, "AWS_ENDPOINT_URL=" + f.emuURL,
		"AWS_ACCESS_KEY_ID=" + awsAccessKey, "AWS_SECRET_ACCESS_KEY=" + awsSecretKey,
	}
	return append(env, extra...)
}

// instance is a running demoapp process.
type instance struct {
	f              *fixture
	cmd            *exec.Cmd
	url            string
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

var listening = regexp.MustCompile(`^demoapp: listening on (\S+) \(kms (\S+)\)$`)

// start runs demoapp with env (LISTEN_ADDR 127.0.0.1:0 unless env sets
// it) and waits until it prints that it listens.
func (f *fixture) start(env []string) *instance {
	f.t.Helper()
	if !slicesHasPrefix(env, "LISTEN_ADDR=") {
		env = append(env, "LISTEN_ADDR=127.0.0.1:0")
	}
	in := &instance{f: f, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	f.record(in.stdout)
	f.record(in.stderr)
	in.cmd = exec.Command(demoappBin)
	in.cmd.Env = env
	pr, pw := io.Pipe()
	in.cmd.Stdout, in.cmd.Stderr = io.MultiWriter(in.stdout, pw), in.stderr
	if err := in.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go func() { in.err = in.cmd.Wait(); pw.Close(); close(in.done) }()
	f.t.Cleanup(func() {
		_ = in.cmd.Process.Kill()
		<-in.done
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				<-in.done
				f.t.Fatalf("demoapp exited before listening (%v); stderr:\n%s", in.err, in.stderr)
			}
			if m := listening.FindStringSubmatch(line); m != nil {
				in.url = "http://" + m[1]
				go func() {
					for range lines {
					}
				}()
				return in
			}
		case <-timeout:
			f.t.Fatalf("demoapp did not listen within 10s; stdout:\n%s\nstderr:\n%s", in.stdout, in.stderr)
		}
	}
}

func slicesHasPrefix(env []string, prefix string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			return true
		}
	}
	return false
}

// stop sends SIGTERM and returns the exit error once the process is gone.
func (in *instance) stop() error {
	in.f.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
		return in.err
	case <-time.After(15 * time.Second):
		in.f.t.Fatalf("demoapp did not stop within 15s after SIGTERM; stderr:\n%s", in.stderr)
		return nil
	}
}

// do sends a request and returns the status and body, recorded for the
// key material scan.
func (in *instance) do(method, path, body, bearer string) (int, string) {
	in.f.t.Helper()
	req, err := http.NewRequest(method, in.url+path, strings.NewReader(body))
	if err != nil {
		in.f.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	in.f.record(str(data))
	return resp.StatusCode, string(data)
}

// want checks a request's status and returns its body.
func (in *instance) want(status int, method, path, body, bearer string) string {
	in.f.t.Helper()
	got, data := in.do(method, path, body, bearer)
	if got != status {
		in.f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, data)
	}
	return data
}

// put submits an item and waits until it is stored; it returns its id.
func (in *instance) put(payload string) string {
	in.f.t.Helper()
	var v struct{ ID, Provider string }
	mustJSON(in.f.t, in.want(http.StatusAccepted, "POST", "/work", payload, ""), &v)
	in.waitStored(v.ID)
	return v.ID
}

func (in *instance) waitStored(id string) {
	in.f.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, it := range in.list() {
			if it.ID == id && it.State == "stored" {
				return
			}
		}
	}
	in.f.t.Fatalf("item %s not stored within 10s: %+v", id, in.list())
}

func (in *instance) list() []app.ItemInfo {
	in.f.t.Helper()
	var list []app.ItemInfo
	mustJSON(in.f.t, in.want(http.StatusOK, "GET", "/work", "", ""), &list)
	return list
}

func (in *instance) inflight() int {
	in.f.t.Helper()
	var v struct{ Inflight int }
	mustJSON(in.f.t, in.want(http.StatusOK, "GET", "/admin/inflight", "", ""), &v)
	return v.Inflight
}

func mustJSON(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, data)
	}
}

// TestProviderIsolation: an item written under one provider is a 409 under
// the other, naming the provider it was written under, and reads again
// once the instance is back on its provider.
func TestProviderIsolation(t *testing.T) {
	f := newFixture(t)
	local := f.start(f.env("local", f.jwtOld))
	if h := local.want(200, "GET", "/health", "", ""); !strings.Contains(h, `"kms":"local"`) || !strings.Contains(h, `"status":"ok"`) {
		t.Fatalf("local health: %s", h)
	}
	oldID := local.put("written under local")
	if got := local.want(200, "GET", "/work/"+oldID, "", ""); got != "written under local" {
		t.Fatalf("local read back %q", got)
	}
	if err := local.stop(); err != nil {
		t.Fatalf("local stop: %v", err)
	}

	awsInst := f.start(f.env("AWS", f.jwtOld))
	if h := awsInst.want(200, "GET", "/health", "", ""); !strings.Contains(h, `"kms":"AWS"`) {
		t.Fatalf("AWS health: %s", h)
	}
	body := awsInst.want(409, "GET", "/work/"+oldID, "", "")
	if !strings.Contains(body, "written under KMS provider local; this instance runs AWS") {
		t.Fatalf("409 body %s", body)
	}
	newID := awsInst.put("written under AWS")
	if got := awsInst.want(200, "GET", "/work/"+newID, "", ""); got != "written under AWS" {
		t.Fatalf("AWS read back %q", got)
	}
	providers := map[string]string{}
	for _, it := range awsInst.list() {
		providers[it.ID] = it.Provider + "/" + it.State
	}
	if providers[oldID] != "local/stored" || providers[newID] != "AWS/stored" {
		t.Fatalf("GET /work: %v", providers)
	}
	// The data key really is AWS KMS's: its file holds a KMS ciphertext
	// blob, which the emulator decrypts with the item's context only.
	it := readItem(t, f, newID)
	if it.Provider != "AWS" || it.KeyID != f.arn {
		t.Fatalf("item file: provider %s key %s", it.Provider, it.KeyID)
	}
	if _, err := f.kms.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: it.WrappedKey,
		EncryptionContext: map[string]string{"app": "demoapp", "item": newID}}); err != nil {
		t.Fatalf("KMS Decrypt of the item's wrapped key: %v", err)
	}
	if _, err := f.kms.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: it.WrappedKey,
		EncryptionContext: map[string]string{"app": "demoapp", "item": oldID}}); err == nil {
		t.Fatal("KMS Decrypt with another item's context succeeded")
	}
	if err := awsInst.stop(); err != nil {
		t.Fatalf("AWS stop: %v", err)
	}

	back := f.start(f.env("local", f.jwtOld))
	body = back.want(409, "GET", "/work/"+newID, "", "")
	if !strings.Contains(body, "written under KMS provider AWS; this instance runs local") {
		t.Fatalf("409 body %s", body)
	}
	if got := back.want(200, "GET", "/work/"+oldID, "", ""); got != "written under local" {
		t.Fatalf("old item after going back to local: %q", got)
	}
	back.want(404, "GET", "/work/0123456789abcdef", "", "")
	back.want(404, "GET", "/work/..%2fx", "", "")

	// Another local key cannot read it either: 409 naming both fingerprints.
	other, _ := app.GenerateLocalKey()
	otherFile := filepath.Join(f.dir, "other.key")
	if err := os.WriteFile(otherFile, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = back.stop()
	wrongKey := f.start(f.env("local", f.jwtOld, "LOCAL_KMS_KEY_FILE="+otherFile))
	if body := wrongKey.want(409, "GET", "/work/"+oldID, "", ""); !strings.Contains(body, "local key") {
		t.Fatalf("wrong local key: %s", body)
	}
}

func readItem(t *testing.T, f *fixture, id string) *app.Item {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.dataDir, "items", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var it app.Item
	mustJSON(t, string(data), &it)
	return &it
}

// TestPauseDrains: pause refuses new work, in-flight work drains to 0 and
// is stored, and the pause survives a restart until resumed.
func TestPauseDrains(t *testing.T) {
	f := newFixture(t)
	in := f.start(f.env("local", f.jwtOld, "JOB_DURATION=800ms"))
	var ids []string
	for i := range 3 {
		var v struct{ ID string }
		mustJSON(t, in.want(202, "POST", "/work", fmt.Sprintf("job %d", i), ""), &v)
		ids = append(ids, v.ID)
	}
	if n := in.inflight(); n != 3 {
		t.Fatalf("inflight %d, want 3", n)
	}
	if body := in.want(404, "GET", "/work/"+ids[0], "", ""); !strings.Contains(body, "in flight") {
		t.Fatalf("GET of an in-flight item: %s", body)
	}
	in.want(204, "POST", "/admin/pause", "", "")
	if body := in.want(503, "POST", "/work", "refused", ""); !strings.Contains(body, "paused") {
		t.Fatalf("POST while paused: %s", body)
	}
	start := time.Now()
	for in.inflight() != 0 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("in-flight count still %d after 5s", in.inflight())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, id := range ids {
		if got := in.want(200, "GET", "/work/"+id, "", ""); got != fmt.Sprintf("job %d", i) {
			t.Fatalf("item %s: %q", id, got)
		}
	}
	if h := in.want(200, "GET", "/health", "", ""); !strings.Contains(h, `"paused":true`) {
		t.Fatalf("health while paused: %s", h)
	}
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	again := f.start(f.env("local", f.jwtOld))
	again.want(503, "POST", "/work", "still paused", "")
	again.want(204, "POST", "/admin/resume", "", "")
	again.want(202, "POST", "/work", "resumed", "")
	again.want(204, "POST", "/admin/resume", "", "") // idempotent
}

// TestGracefulShutdown: SIGTERM lets in-flight items finish and exits 0.
func TestGracefulShutdown(t *testing.T) {
	f := newFixture(t)
	in := f.start(f.env("local", f.jwtOld, "JOB_DURATION=600ms"))
	var ids []string
	for i := range 2 {
		var v struct{ ID string }
		mustJSON(t, in.want(202, "POST", "/work", fmt.Sprintf("late %d", i), ""), &v)
		ids = append(ids, v.ID)
	}
	if err := in.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, in.stderr)
	}
	again := f.start(f.env("local", f.jwtOld, "JOB_DURATION=1m"))
	for i, id := range ids {
		if got := again.want(200, "GET", "/work/"+id, "", ""); got != fmt.Sprintf("late %d", i) {
			t.Fatalf("item %s after shutdown: %q", id, got)
		}
	}
	// An item that would be in flight for a minute is completed (not lost)
	// once the shutdown grace is over.
	var v struct{ ID string }
	mustJSON(t, again.want(202, "POST", "/work", "slow", ""), &v)
	start := time.Now()
	if err := again.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if d := time.Since(start); d > app.ShutdownGrace+5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	last := f.start(f.env("local", f.jwtOld))
	if got := last.want(200, "GET", "/work/"+v.ID, "", ""); got != "slow" {
		t.Fatalf("slow item after shutdown: %q", got)
	}
}

// TestJWTRotation: tokens of the old key verify once the list is new,old;
// new tokens carry the new key's kid; a key dropped from the list no
// longer verifies; tampered tokens never do.
func TestJWTRotation(t *testing.T) {
	f := newFixture(t)
	oldKey, _ := app.ParseJWTKey(f.jwtOld)
	newKey, _ := app.ParseJWTKey(f.jwtNew)
	oldKid, newKid := app.KeyID(&oldKey.PublicKey), app.KeyID(&newKey.PublicKey)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(oldKid) || oldKid == newKid {
		t.Fatalf("kids %q %q", oldKid, newKid)
	}

	before := f.start(f.env("local", f.jwtOld))
	var tok struct{ Token, Kid string }
	mustJSON(t, before.want(200, "POST", "/token", "", ""), &tok)
	if tok.Kid != oldKid {
		t.Fatalf("token kid %s, want %s", tok.Kid, oldKid)
	}
	oldToken := tok.Token
	if body := before.want(200, "GET", "/verify", "", oldToken); !strings.Contains(body, oldKid) {
		t.Fatalf("verify: %s", body)
	}
	before.want(401, "GET", "/verify", "", "")
	_ = before.stop()

	after := f.start(f.env("AWS", f.jwtNew+","+f.jwtOld))
	if body := after.want(200, "GET", "/verify", "", oldToken); !strings.Contains(body, `"kid":"`+oldKid+`"`) {
		t.Fatalf("old token after rotation: %s", body)
	}
	mustJSON(t, after.want(200, "POST", "/token", "", ""), &tok)
	if tok.Kid != newKid {
		t.Fatalf("new token kid %s, want %s", tok.Kid, newKid)
	}
	if kid, err := app.TokenKID(tok.Token); err != nil || kid != newKid {
		t.Fatalf("new token header kid %q (%v), want %s", kid, err, newKid)
	}
	newToken := tok.Token
	if body := after.want(200, "GET", "/verify", "", newToken); !strings.Contains(body, newKid) {
		t.Fatalf("verify new: %s", body)
	}
	// Tampering with the claims breaks the signature.
	parts := strings.Split(newToken, ".")
	forged := parts[0] + "." + b64json(t, map[string]any{"iss": "demoapp", "sub": "admin", "exp": time.Now().Add(time.Hour).Unix()}) + "." + parts[2]
	after.want(401, "GET", "/verify", "", forged)
	after.want(401, "GET", "/verify", "", "not.a.token")
	_ = after.stop()

	// The client commands the demo script uses.
	only := f.start(f.env("local", f.jwtNew))
	if out := runClient(t, f, 1, "verify", only.url, oldToken); !strings.Contains(out, "401") {
		t.Fatalf("old token after the old key left the list: %s", out)
	}
	if out := runClient(t, f, 0, "verify", only.url, newToken); strings.TrimSpace(out) != newKid {
		t.Fatalf("client verify: %q", out)
	}
	if out := runClient(t, f, 0, "kid", oldToken); strings.TrimSpace(out) != oldKid {
		t.Fatalf("client kid: %q", out)
	}
	envFile := filepath.Join(f.dir, "app.env")
	if err := os.WriteFile(envFile, []byte("JWT_ECDSA_KEY="+f.jwtNew+","+f.jwtOld+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runDemoapp(t, f, 0, "kids", "-env-file", envFile); out != newKid+"\n"+oldKid+"\n" {
		t.Fatalf("kids: %q", out)
	}
}

func b64json(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(data)), "=")
}

// TestHealthFollowsAWSKey: /health is 503 with the reason while the AWS key
// is disabled, and reads of AWS items fail with 502; both recover when it
// is enabled again.
func TestHealthFollowsAWSKey(t *testing.T) {
	f := newFixture(t)
	in := f.start(f.env("AWS", f.jwtOld))
	id := in.put("needs the key")
	in.want(200, "GET", "/health", "", "")
	ctx := context.Background()
	if _, err := f.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(f.arn)}); err != nil {
		t.Fatal(err)
	}
	body := in.want(503, "GET", "/health", "", "")
	if !strings.Contains(body, "DisabledException") || !strings.Contains(body, `"kms":"AWS"`) {
		t.Fatalf("health with the key disabled: %s", body)
	}
	if out := runClient(t, f, 1, "health", in.url); !strings.Contains(out, "503") {
		t.Fatalf("client health: %s", out)
	}
	in.want(502, "GET", "/work/"+id, "", "")
	if _, err := f.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(f.arn)}); err != nil {
		t.Fatal(err)
	}
	in.want(200, "GET", "/health", "", "")
	if got := in.want(200, "GET", "/work/"+id, "", ""); got != "needs the key" {
		t.Fatalf("read back %q", got)
	}
	// An unreachable endpoint is a 503 too, not a crash at start.
	_ = in.stop()
	down := f.start(f.env("AWS", f.jwtOld, "AWS_ENDPOINT_URL=http://127.0.0.1:1"))
	down.want(503, "GET", "/health", "", "")
}

// TestConfigErrors: invalid configurations exit 1 with one line on
// stderr that names the problem and never the key material.
func TestConfigErrors(t *testing.T) {
	f := newFixture(t)
	badKeyFile := filepath.Join(f.dir, "bad.key")
	// base64 of 16 bytes: a key of the wrong size, which must not be echoed.
	shortKey := "c2hvcnQta2V5LW1hdGVyaWFsIQ=="
	if err := os.WriteFile(badKeyFile, []byte(shortKey), 0o600); err != nil {
		t.Fatal(err)
	}
	// A JWT key list whose second entry is the local key (valid base64, not PKCS#8).
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"unknown provider", f.env("vault", f.jwtOld), `KMS_PROVIDER "vault" is not supported`},
		{"no provider", f.env("", f.jwtOld), "KMS_PROVIDER is not set"},
		{"AWS without ARN", f.env("AWS", f.jwtOld, "AWS_KMS_KEY_ARN="), "KMS_PROVIDER=AWS needs AWS_KMS_KEY_ARN"},
		{"AWS without credentials", f.env("AWS", f.jwtOld, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="), "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"},
		{"JWT key not PKCS#8", f.env("local", f.jwtNew+","+f.localKey), "JWT_ECDSA_KEY: key 2 of 2 is not a PKCS#8 private key"},
		{"JWT key not base64", f.env("local", f.jwtOld[:40]+"!"+f.jwtOld[41:]), "JWT_ECDSA_KEY: key 1 of 1 is not valid standard base64"},
		{"JWT key missing", f.env("local", ""), "JWT_ECDSA_KEY is not set"},
		{"local key wrong size", f.env("local", f.jwtOld, "LOCAL_KMS_KEY_FILE="+badKeyFile), "does not hold a base64-encoded 32-byte key"},
		{"local key file missing", f.env("local", f.jwtOld, "LOCAL_KMS_KEY_FILE="+filepath.Join(f.dir, "nope")), "no such file or directory"},
		{"bad job duration", f.env("local", f.jwtOld, "JOB_DURATION=soon"), `JOB_DURATION "soon"`},
		{"no data dir", f.env("local", f.jwtOld, "DATA_DIR="), "DATA_DIR is not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(demoappBin)
			cmd.Env = append(c.env, "LISTEN_ADDR=127.0.0.1:0")
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			f.record(&stdout)
			f.record(&stderr)
			err := cmd.Run()
			if code := exitCode(err); code != 1 {
				t.Fatalf("exit %d (%v), want 1; stderr: %s", code, err, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "demoapp: ") || !strings.Contains(msg, c.want) {
				t.Fatalf("stderr %q, want one line containing %q", msg, c.want)
			}
			if strings.Contains(msg, shortKey) || stdout.String() != "" {
				t.Fatalf("stdout %q stderr %q", stdout.String(), msg)
			}
		})
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// runDemoapp runs the binary with args and checks its exit code; it returns
// stdout and stderr together.
func runDemoapp(t *testing.T, f *fixture, want int, args ...string) string {
	t.Helper()
	cmd := exec.Command(demoappBin, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if args[0] != "keygen" { // its output is a new key, on purpose
		f.record(&out)
	}
	err := cmd.Run()
	if code := exitCode(err); code != want {
		t.Fatalf("demoapp %q: exit %d, want %d: %s", args, code, want, out.String())
	}
	return out.String()
}

func runClient(t *testing.T, f *fixture, want int, args ...string) string {
	t.Helper()
	return runDemoapp(t, f, want, append([]string{"client"}, args...)...)
}

// TestClientAndTools: the subcommands scripts/demo.sh uses.
func TestClientAndTools(t *testing.T) {
	f := newFixture(t)
	jwt := strings.TrimSpace(runDemoapp(t, f, 0, "keygen"))
	if _, err := app.ParseJWTKey(jwt); err != nil {
		t.Fatalf("keygen output is not a JWT key: %v", err)
	}
	local := strings.TrimSpace(runDemoapp(t, f, 0, "keygen", "-type", "aes256"))
	keyFile := filepath.Join(f.dir, "gen.key")
	if err := os.WriteFile(keyFile, []byte(local+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(runDemoapp(t, f, 0, "freeport"))
	in := f.start(f.env("local", jwt, "LOCAL_KMS_KEY_FILE="+keyFile, "LISTEN_ADDR="+addr))
	if in.url != "http://"+addr {
		t.Fatalf("listening on %s, want %s", in.url, addr)
	}
	id := strings.TrimSpace(runClient(t, f, 0, "put", "-wait", "10s", in.url, "hello from the client"))
	if got := runClient(t, f, 0, "get", in.url, id); got != "hello from the client" {
		t.Fatalf("client get: %q", got)
	}
	if out := runClient(t, f, 0, "list", in.url); out != id+" local stored\n" {
		t.Fatalf("client list: %q", out)
	}
	if out := runClient(t, f, 0, "health", "-wait", "5s", in.url); !strings.Contains(out, `"status":"ok"`) {
		t.Fatalf("client health: %q", out)
	}
	runClient(t, f, 0, "pause", in.url)
	if out := runClient(t, f, 1, "put", in.url, "x"); !strings.Contains(out, "503") || !strings.Contains(out, "paused") {
		t.Fatalf("client put while paused: %q", out)
	}
	if out := runClient(t, f, 0, "inflight", in.url); out != "0\n" {
		t.Fatalf("client inflight: %q", out)
	}
	runClient(t, f, 0, "resume", in.url)
	tok := strings.TrimSpace(runClient(t, f, 0, "token", in.url))
	k, _ := app.ParseJWTKey(jwt)
	if out := runClient(t, f, 0, "verify", in.url, tok); strings.TrimSpace(out) != app.KeyID(&k.PublicKey) {
		t.Fatalf("client verify: %q", out)
	}
	if out := runClient(t, f, 1, "get", in.url, "0123456789abcdef"); !strings.Contains(out, "404") {
		t.Fatalf("client get missing: %q", out)
	}
	runDemoapp(t, f, 2, "client", "bogus")
	runDemoapp(t, f, 2, "nonsense")
}

// TestEmulatorCreateKey: awsemu -create-key makes a usable key with the
// alias, -key-file names its ARN, and a second start with -state keeps it.
func TestEmulatorCreateKey(t *testing.T) {
	f := newFixture(t)
	state := filepath.Join(f.dir, "emu-state.json")
	start := func(keyFile string) (string, func()) {
		addrFile := filepath.Join(f.dir, "emu.addr")
		cmd := exec.Command(awsemuBin, "-access-key", awsAccessKey, "-secret-key", awsSecretKey, "-region", awsRegion,
			"-addr-file", addrFile, "-state", state, "-key-file", keyFile, "-create-key", "alias/demoapp,alias/spare", "-create-key", "demoapp")
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
		t.Cleanup(stop)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b, err := os.ReadFile(addrFile); err == nil {
				return "http://" + strings.TrimSpace(string(b)), stop
			}
			if time.Now().After(deadline) {
				t.Fatalf("awsemu did not start: %s", out.String())
			}
		}
	}
	url, stop := start(filepath.Join(f.dir, "keys1"))
	keys := readKeyFile(t, filepath.Join(f.dir, "keys1"))
	if len(keys) != 2 || !strings.HasPrefix(keys["alias/demoapp"], "arn:aws:kms:"+awsRegion+":") || keys["alias/spare"] == "" {
		t.Fatalf("key file: %v", keys)
	}
	client := kms.NewFromConfig(aws.Config{Region: awsRegion,
		Credentials: credentials.NewStaticCredentialsProvider(awsAccessKey, awsSecretKey, "")},
		func(o *kms.Options) { o.BaseEndpoint = aws.String(url) })
	d, err := client.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("alias/demoapp")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.KeyMetadata.Arn) != keys["alias/demoapp"] || d.KeyMetadata.Origin != types.OriginTypeAwsKms ||
		d.KeyMetadata.KeySpec != types.KeySpecSymmetricDefault || !d.KeyMetadata.Enabled {
		t.Fatalf("key %+v", d.KeyMetadata)
	}
	// demoapp works against it with the ARN from the key file.
	f.emuURL, f.arn = url, keys["alias/demoapp"]
	in := f.start(f.env("AWS", f.jwtOld))
	id := in.put("via -create-key")
	_ = in.stop()
	stop()

	url, _ = start(filepath.Join(f.dir, "keys2"))
	again := readKeyFile(t, filepath.Join(f.dir, "keys2"))
	if again["alias/demoapp"] != keys["alias/demoapp"] || again["alias/spare"] != keys["alias/spare"] {
		t.Fatalf("second start changed the keys: %v, was %v", again, keys)
	}
	f.emuURL = url
	in = f.start(f.env("AWS", f.jwtOld))
	if got := in.want(200, "GET", "/work/"+id, "", ""); got != "via -create-key" {
		t.Fatalf("read back after an emulator restart: %q", got)
	}
}

func readKeyFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("key file line %q", line)
		}
		m[k] = v
	}
	return m
}

// TestSupervisedCutover: the way a plan switches the app: edit the env file
// the supervisor reads, `supervise restart`, and the app comes back on the
// other KMS on the same address.
func TestSupervisedCutover(t *testing.T) {
	f := newFixture(t)
	supervise, err := testenv.SuperviseBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(runDemoapp(t, f, 0, "freeport"))
	envFile, supDir := filepath.Join(f.dir, "app.env"), filepath.Join(f.dir, "sup")
	writeEnv := func(env []string) {
		if err := os.WriteFile(envFile, []byte(strings.Join(env, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeEnv(f.env("local", f.jwtOld, "LISTEN_ADDR="+addr))
	cmd := exec.Command(supervise, "run", "--dir", supDir, "--env-file", envFile, "--", demoappBin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command(supervise, "stop", "--dir", supDir).Run()
		_ = cmd.Wait()
		if b, err := os.ReadFile(filepath.Join(supDir, "log")); err == nil {
			f.record(str(b))
			if t.Failed() {
				t.Logf("supervisor log:\n%s", b)
			}
		}
	})
	url := "http://" + addr
	runClient(t, f, 0, "health", "-wait", "10s", url)
	id := strings.TrimSpace(runClient(t, f, 0, "put", "-wait", "10s", url, "before"))

	writeEnv(f.env("AWS", f.jwtNew+","+f.jwtOld, "LISTEN_ADDR="+addr))
	if out, err := exec.Command(supervise, "restart", "--dir", supDir).CombinedOutput(); err != nil {
		t.Fatalf("supervise restart: %v: %s", err, out)
	}
	if out := runClient(t, f, 0, "health", "-wait", "10s", url); !strings.Contains(out, `"kms":"AWS"`) {
		t.Fatalf("health after the switch: %s", out)
	}
	if out := runClient(t, f, 1, "get", url, id); !strings.Contains(out, "written under KMS provider local; this instance runs AWS") {
		t.Fatalf("old item after the switch: %s", out)
	}
}
