// Package minioexamples is what the tests of the MinIO examples
// (examples/minio-static-to-kes, minio-kes-fs-to-vault,
// minio-kes-to-keymanager) share: writing encrypted objects and reading
// them back byte for byte, the env files of several nodes, plan variables,
// running an example plan in-process with the real engine, and the checks
// every scenario repeats (is MinIO frozen, did the state directory leak a
// secret, does KES serve requests). It is test support, not part of
// cutover.
package minioexamples

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/cli"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers/minio"
)

// S3 is a MinIO server the object helpers write to and read from: a
// *testenv.MinIOServer, or a node of a fleet (internal/testing/fleet).
type S3 interface {
	S3Client(t testing.TB) *miniogo.Client
}

// Object is an object written before a cutover, to be read back after it.
type Object struct {
	Bucket, Name string
	Data         []byte
	// KMSKey is the key of an SSE-KMS object; "" for SSE-S3 (the default
	// key).
	KMSKey string
}

// MakeBuckets creates buckets encrypted by default with SSE-S3 (the
// default key of MinIO's KMS).
func MakeBuckets(t testing.TB, m S3, buckets ...string) {
	t.Helper()
	ctx, c := context.Background(), m.S3Client(t)
	for _, b := range buckets {
		if err := c.MakeBucket(ctx, b, miniogo.MakeBucketOptions{}); err != nil {
			t.Fatalf("make bucket %s: %v", b, err)
		}
		if err := c.SetBucketEncryption(ctx, b, sse.NewConfigurationSSES3()); err != nil {
			t.Fatalf("bucket %s: default encryption: %v", b, err)
		}
	}
}

// PutObjects writes n objects of varied sizes (a few bytes to 300 KiB)
// round robin into buckets, which must exist, and returns them. Every
// third object also carries the SSE-S3 header; the others are encrypted
// by the bucket's default.
func PutObjects(t testing.TB, m S3, prefix string, n int, buckets ...string) []Object {
	t.Helper()
	return put(t, m, objects(prefix, n, buckets), "")
}

// PutObjectsKMS writes n objects into bucket with SSE-KMS under the KMS
// key kmsKey, and returns them.
func PutObjectsKMS(t testing.TB, m S3, prefix string, n int, bucket, kmsKey string) []Object {
	t.Helper()
	return put(t, m, objects(prefix, n, []string{bucket}), kmsKey)
}

// objects makes n objects of varied sizes, round robin over buckets.
func objects(prefix string, n int, buckets []string) []Object {
	objs := make([]Object, n)
	for i := range objs {
		size := 16 + (i*7919)%4096
		if i%50 == 0 {
			size = 300 << 10
		}
		data := make([]byte, size)
		copy(data, fmt.Sprintf("%s object %d of %d\n", prefix, i, n))
		for j := 64; j < size; j++ {
			data[j] = byte(i*31 + j)
		}
		objs[i] = Object{Bucket: buckets[i%len(buckets)], Name: fmt.Sprintf("%s/%04d", prefix, i), Data: data}
	}
	return objs
}

// put uploads objs: with SSE-KMS under kmsKey if set, else SSE-S3 (every
// third object by header, the others by the bucket's default).
func put(t testing.TB, m S3, objs []Object, kmsKey string) []Object {
	t.Helper()
	for i := range objs {
		objs[i].KMSKey = kmsKey
	}
	forEach(t, objs, func(c *miniogo.Client, i int, o Object) error {
		opts := miniogo.PutObjectOptions{}
		switch {
		case kmsKey != "":
			sse, err := encrypt.NewSSEKMS(kmsKey, nil)
			if err != nil {
				return err
			}
			opts.ServerSideEncryption = sse
		case i%3 == 0:
			opts.ServerSideEncryption = encrypt.NewSSE()
		}
		_, err := c.PutObject(context.Background(), o.Bucket, o.Name, bytes.NewReader(o.Data), int64(len(o.Data)), opts)
		return err
	}, m)
	return objs
}

// CheckObjects reads every object back and fails t unless each is
// encrypted as written (SSE-S3, or SSE-KMS under its key) and returns
// exactly the bytes written.
func CheckObjects(t testing.TB, m S3, objs []Object) {
	t.Helper()
	forEach(t, objs, func(c *miniogo.Client, _ int, o Object) error {
		obj, err := c.GetObject(context.Background(), o.Bucket, o.Name, miniogo.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		got, err := io.ReadAll(obj)
		if err != nil {
			return err
		}
		info, err := obj.Stat()
		if err != nil {
			return err
		}
		want := "AES256"
		if o.KMSKey != "" {
			want = "aws:kms"
		}
		if s := info.Metadata.Get("X-Amz-Server-Side-Encryption"); s != want {
			return fmt.Errorf("server-side encryption %q, want %q", s, want)
		}
		if !bytes.Equal(got, o.Data) {
			return fmt.Errorf("read %d bytes that differ from the %d written", len(got), len(o.Data))
		}
		return nil
	}, m)
}

// forEach runs fn for every object, 16 at a time, and fails t with the
// first few errors.
func forEach(t testing.TB, objs []Object, fn func(*miniogo.Client, int, Object) error, m S3) {
	t.Helper()
	c := m.S3Client(t)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	sem := make(chan struct{}, 16)
	for i, o := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(c, i, o); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s/%s: %v", o.Bucket, o.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d objects failed, e.g.:\n%s", len(errs), len(objs), strings.Join(errs[:min(5, len(errs))], "\n"))
	}
}

// NodeEnvFiles returns the env files of n nodes: MinIO's own as node 1,
// and identical copies for nodes 2..n under dir/node<i>/minio.env. Only
// node 1's file is read by a running MinIO; the others stand for the
// other nodes' /etc/default/minio, mounted on the operator's machine.
func NodeEnvFiles(t testing.TB, m *testenv.MinIOServer, dir string, n int) []string {
	t.Helper()
	files := []string{m.EnvFile}
	for i := 2; i <= n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("node%d", i), "minio.env")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	SyncNodes(t, files)
	return files
}

// SyncNodes copies the first file over the others, as a configuration
// manager would.
func SyncNodes(t testing.TB, files []string) {
	t.Helper()
	b := ReadFile(t, files[0])
	for _, p := range files[1:] {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadFile returns a file's bytes or fails t.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Snapshot returns the bytes of files, to compare with a later Snapshot.
func Snapshot(t testing.TB, files []string) [][]byte {
	t.Helper()
	out := make([][]byte, len(files))
	for i, f := range files {
		out[i] = ReadFile(t, f)
	}
	return out
}

// Unchanged fails t unless files hold exactly the bytes of before.
func Unchanged(t testing.TB, files []string, before [][]byte) {
	t.Helper()
	for i, f := range files {
		if got := ReadFile(t, f); !bytes.Equal(got, before[i]) {
			t.Errorf("%s changed:\n%s\nwas:\n%s", f, got, before[i])
		}
	}
}

// HCLList renders ss as an HCL list of strings, for a -var value.
func HCLList(ss ...string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Vars is a plan's variables, NAME -> value as given to -var.
type Vars map[string]string

// With returns a copy of v with more variables set.
func (v Vars) With(kv ...string) Vars {
	out := Vars{}
	for k, val := range v {
		out[k] = val
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Pairs returns the variables as NAME, VALUE, NAME, VALUE..., for With.
func (v Vars) Pairs() []string {
	var out []string
	for k, val := range v {
		out = append(out, k, val)
	}
	return out
}

// Args returns the variables as NAME=VALUE strings.
func (v Vars) Args() []string {
	var out []string
	for k, val := range v {
		out = append(out, k+"="+val)
	}
	return out
}

// Flags returns the variables as -var flags of the cutover command.
func (v Vars) Flags() []string {
	var out []string
	for _, kv := range v.Args() {
		out = append(out, "-var", kv)
	}
	return out
}

// Load copies the example plan file into a new directory (its state
// directory goes there) and loads it with vars.
func Load(t testing.TB, file string, vars Vars) *plantest.Harness {
	t.Helper()
	return plantest.Load(t, t.TempDir(), string(ReadFile(t, file)), plan.Options{Vars: vars.Args()})
}

// Run runs the plan with the real engine, sending every event to sink
// as well as to the harness's recorder.
func Run(ctx context.Context, h *plantest.Harness, sink func(event.Event)) engine.Result {
	events := event.SinkFunc(func(e event.Event) {
		h.Events.Emit(e)
		if sink != nil {
			sink(e)
		}
	})
	return engine.Run(ctx, h.Plan, engine.Options{Store: h.Store, Events: events,
		Confirm: func(context.Context, string) (bool, error) { return true, nil }})
}

// Rollback is `cutover rollback` on the harness's checkpoint.
func Rollback(ctx context.Context, h *plantest.Harness) engine.Result { return h.Rollback(ctx, false) }

// RollbackActions lists the rollback's actions as "phase op step status".
func RollbackActions(r engine.Result) []string {
	if r.State == nil || r.State.Rollback == nil {
		return nil
	}
	var out []string
	for _, a := range r.State.Rollback.Actions {
		out = append(out, fmt.Sprintf("%d %s %s %s", a.Phase, a.Op, a.Step, a.Status))
	}
	return out
}

// RolledBackCheckpoint fails t unless the stored checkpoint agrees with
// res: the run rolled back, every compensation is done, and the operator
// is pointed at `cutover status`.
func RolledBackCheckpoint(t testing.TB, h *plantest.Harness, res engine.Result) {
	t.Helper()
	st, err := h.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.RolledBack || st.Phase != checkpoint.PhaseRolledBack || st.Error == "" {
		t.Errorf("outcome %s, stored phase %s (error %q): want rolled back with its cause", res.Outcome, st.Phase, st.Error)
	}
	for _, a := range st.Rollback.Actions {
		if a.Status != checkpoint.StatusDone {
			t.Errorf("stored rollback action %d %s %s is %s", a.Phase, a.Op, a.Step, a.Status)
		}
	}
	if !strings.Contains(res.Next, "cutover status") {
		t.Errorf("next: %q, want `cutover status`", res.Next)
	}
}

// StepStatus returns a step's status in the result's checkpoint.
func StepStatus(r engine.Result, id string) string {
	if r.State == nil || r.State.Step(id) == nil {
		return ""
	}
	return string(r.State.Step(id).Status)
}

// NoCheckpoint fails t if the plan's state directory holds a state file:
// a refused preflight must leave none.
func NoCheckpoint(t testing.TB, h *plantest.Harness) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(h.Store.Dir(), "state.json")); err == nil {
		t.Errorf("a checkpoint was written in %s", h.Store.Dir())
	}
}

// Deployment returns the minio block of a server, for probes.
func Deployment(m *testenv.MinIOServer) *minio.Config {
	return &minio.Config{Name: "minio.test", Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey}
}

// NotFrozen fails t if MinIO holds S3 requests (or cannot be reached).
func NotFrozen(t testing.TB, m *testenv.MinIOServer) {
	t.Helper()
	frozen, err := Deployment(m).Frozen(context.Background(), minio.FrozenWait)
	if err != nil || frozen {
		t.Errorf("MinIO frozen=%v (%v), want serving S3 requests", frozen, err)
	}
}

// Frozen fails t unless MinIO holds S3 requests.
func Frozen(t testing.TB, m *testenv.MinIOServer) {
	t.Helper()
	frozen, err := Deployment(m).Frozen(context.Background(), minio.FrozenWait)
	if err != nil || !frozen {
		t.Errorf("MinIO frozen=%v (%v), want S3 requests held", frozen, err)
	}
}

// AgeIdentity generates an operator's age identity in dir and returns its
// public key (a backup recipient) and the identity file.
func AgeIdentity(t testing.TB, dir string) (recipient, identityFile string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identityFile = filepath.Join(dir, "operator.agekey")
	if err := os.WriteFile(identityFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), identityFile
}

// NoSecrets fails t if any file of the state directory dir, other than the
// undo data (undo/, kept 0600 and allowed to hold an env file's original
// bytes), contains one of secrets.
func NoSecrets(t testing.TB, dir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if filepath.Base(filepath.Dir(path)) == "undo" {
			if fi, _ := d.Info(); fi != nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("undo file %s has mode %v, want 0600", rel, fi.Mode().Perm())
			}
			return nil
		}
		for _, s := range secrets {
			if s != "" && bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains a secret (%.6s...)", rel, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// LogMark is a position in a growing log file.
type LogMark struct {
	path string
	off  int
}

// MarkLog returns the current end of the log file at path.
func MarkLog(t testing.TB, path string) LogMark {
	t.Helper()
	return LogMark{path: path, off: len(ReadFile(t, path))}
}

// Since returns what was appended to the log after the mark.
func (l LogMark) Since(t testing.TB) string {
	t.Helper()
	b := ReadFile(t, l.path)
	if len(b) < l.off {
		return string(b)
	}
	return string(b[l.off:])
}

// Cutover runs the cutover command in-process with args (after
// "cutover") and returns its exit code, stdout and stderr.
func Cutover(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(append([]string{"cutover"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// Validate fails t unless `cutover validate` accepts each plan file with
// no inputs (it contacts nothing).
func Validate(t testing.TB, files ...string) {
	t.Helper()
	for _, f := range files {
		if code, out, errOut := Cutover("validate", f); code != cli.ExitOK || !strings.Contains(out, "is valid") {
			t.Errorf("cutover validate %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
}

// RestartVar renders MinIO's supervisor restart command as a -var value.
func RestartVar(m *testenv.MinIOServer) string { return HCLList(m.RestartCommand()...) }
