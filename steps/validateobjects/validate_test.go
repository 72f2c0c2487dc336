package validateobjects

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/cutover/cutover/internal/testing/steptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/minio"
)

const keyName = "my-minio-key"

func randomKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// server is a MinIO with a static KMS key, and its Config.
type server struct {
	*testenv.MinIOServer
	cfg *minio.Config
	s3  *miniogo.Client
}

func startMinIO(t testing.TB, key []byte) *server {
	t.Helper()
	return startMinIOWith(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv(keyName, key)})
}

// startMinIOWith starts MinIO with opts; the step's config trusts its CA
// when it speaks TLS.
func startMinIOWith(t testing.TB, opts testenv.MinIOOptions) *server {
	t.Helper()
	m := testenv.MinIO(t, opts)
	cfg := &minio.Config{Name: "minio.test", Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		CAFile: m.CAFile}
	return &server{MinIOServer: m, cfg: cfg, s3: m.S3Client(t)}
}

// bucket creates a bucket, with SSE-S3 by default when encrypted.
func (s *server) bucket(t testing.TB, name string, encrypted bool) {
	t.Helper()
	must(t, "make bucket "+name, s.s3.MakeBucket(context.Background(), name, miniogo.MakeBucketOptions{}))
	if encrypted {
		if out, err := s.MC(t, "encrypt", "set", "sse-s3", testenv.MCAlias+"/"+name); err != nil {
			t.Fatalf("mc encrypt set: %v\n%s", err, out)
		}
	}
}

// put uploads objects named by format and 0..n-1, 32 at a time; sse adds
// the SSE-S3 header (for buckets without default encryption).
func (s *server) put(t testing.TB, bucket, format string, n int, sse bool) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 32)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			name := fmt.Sprintf(format, i)
			data := strings.Repeat(name+"\n", 1+i%5)
			opts := miniogo.PutObjectOptions{}
			if sse {
				opts.ServerSideEncryption = encrypt.NewSSE()
			}
			if _, err := s.s3.PutObject(context.Background(), bucket, name, strings.NewReader(data), int64(len(data)), opts); err != nil {
				failed.Store(fmt.Errorf("put %s/%s: %w", bucket, name, err))
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatal(err)
	}
}

// all, as step's sample, reads every object (sample = "all").
const all = -1

// step returns a validate_objects step over buckets that reads a sample
// of that many objects, or every object.
func (s *server) step(sample, concurrency int, buckets ...string) *Step {
	return &Step{Config: Config{Buckets: buckets, Bytes: DefaultBytes, Concurrency: concurrency},
		All: sample == all, SampleSize: max(sample, 0), Deployment: s.cfg}
}

// restartOnKey restarts MinIO through its supervisor on a static key of
// the same name.
func (s *server) restartOnKey(t testing.TB, key []byte) {
	t.Helper()
	must(t, "env file", s.SetKMSEnv(testenv.StaticKeyEnv(keyName, key)))
	s.Restart(t)
}

func checkOutputs(t *testing.T, rt *steptest.Runtime, checked, failed, skipped int) {
	t.Helper()
	want := map[string]string{"checked": fmt.Sprint(checked), "failed": fmt.Sprint(failed), "skipped": fmt.Sprint(skipped)}
	for k, v := range want {
		if rt.Outputs[k] != v {
			t.Errorf("output %s = %q, want %s (summary: %s)", k, rt.Outputs[k], v, rt.Summary)
		}
	}
}

// TestWrongKeyImported is the failure validate_objects exists for: MinIO
// restarted on a different key of the same name passes its readiness
// check and serves HEADs, but decrypts nothing. MinIO cannot even list
// buckets of single-part SSE-S3 objects then (it decrypts their ETags to
// list them): those listings fail, named by bucket. Objects it can list
// (SSE-KMS, multipart SSE-S3) are read, every failure counted and
// logged, the first 20 named. Back on the right key, everything reads.
func TestWrongKeyImported(t *testing.T) {
	key := randomKey(t)
	s := startMinIO(t, key)
	s.bucket(t, "crypt", true)
	s.bucket(t, "logs", false)
	s.bucket(t, "kms", false)
	s.put(t, "crypt", "obj-%04d", 200, false)
	_, err := s.s3.PutObject(context.Background(), "crypt", "empty-marker/", strings.NewReader(""), 0, miniogo.PutObjectOptions{})
	must(t, "put empty", err)
	s.put(t, "logs", "log/%04d", 150, true)
	s.put(t, "logs", "plain/%03d", 25, false)
	s.putKMS(t, "kms", "k-%03d", 100)
	s.putMultipart(t, "kms", "big-%d", 2)
	step := s.step(all, 16, "crypt", "logs", "kms")

	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate on the right key", step.Apply(context.Background(), rt))
	checkOutputs(t, rt, 452, 0, 26)
	if !strings.Contains(rt.Summary, "all readable") || !strings.Contains(rt.Summary, "25 unencrypted, 1 empty") {
		t.Errorf("summary = %q", rt.Summary)
	}
	checkLine(t, rt, "crypt", "bucket crypt: read 200, encrypted 200 (SSE-S3 200, SSE-KMS 0, SSE-C 0 skipped), unencrypted 0, empty 1, failed 0; listed 201")
	checkLine(t, rt, "logs", "bucket logs: read 150, encrypted 150 (SSE-S3 150, SSE-KMS 0, SSE-C 0 skipped), unencrypted 25, empty 0, failed 0; listed 175")
	checkLine(t, rt, "kms", "bucket kms: read 102, encrypted 102 (SSE-S3 2, SSE-KMS 100, SSE-C 0 skipped), unencrypted 0, empty 0, failed 0; listed 102")

	s.restartOnKey(t, randomKey(t))
	must(t, "ready on the wrong key (it only asks for a fresh data key)", s.cfg.Ready(context.Background()))
	rt = steptest.NewRuntime("validate_objects.test")
	err = step.Apply(context.Background(), rt)
	t.Logf("error: %.600s...", err)
	var oe *ObjectErrors
	if !errors.As(err, &oe) || oe.Count() != 102 || oe.Checked != 102 {
		t.Fatalf("validate on the wrong key = %v, want 102 of 102 listed objects unreadable", err)
	}
	checkOutputs(t, rt, 102, 102, 0)
	checkLine(t, rt, "crypt", "bucket crypt: read 0, encrypted 0 (SSE-S3 0, SSE-KMS 0, SSE-C 0 skipped), unencrypted 0, empty 0, failed 0; listed 0; listing FAILED")
	checkLine(t, rt, "kms", "bucket kms: read 102, encrypted 0 (SSE-S3 0, SSE-KMS 0, SSE-C 0 skipped), unencrypted 0, empty 0, failed 102 (102 of unknown encryption: the read failed before MinIO said); listed 102")
	lists := oe.Listings()
	if len(lists) != 2 || lists[0].Bucket != "crypt" || lists[1].Bucket != "logs" || !strings.HasPrefix(lists[0].Reason, "kms:InvalidCiphertextException") {
		t.Errorf("failed listings = %+v, want crypt and logs with the KMS's error", lists)
	}
	named := oe.Named()
	if len(named) != 20 || named[0].Key != "big-0" || named[2].Key != "k-000" || named[19].Key != "k-017" {
		t.Errorf("named failures = %v, want kms/big-0, big-1, k-000 .. k-017", named)
	}
	if !strings.Contains(named[0].Reason, "kms:InvalidCiphertextException") || !strings.Contains(err.Error(), "and 82 more") ||
		!strings.Contains(err.Error(), "listing crypt/ failed at its start: kms:InvalidCiphertextException") {
		t.Errorf("error = %v", err)
	}
	if n := strings.Count(rt.Text(), "unreadable "); n != 102 {
		t.Errorf("the step's log names %d unreadable objects, want all 102", n)
	}
	if !strings.Contains(rt.Text(), "unreadable kms/k-099: kms:InvalidCiphertextException") || !strings.Contains(rt.Text(), "listing logs/ failed") {
		t.Errorf("the log lacks kms/k-099 or the listing of logs:\n%.500s", rt.Text())
	}
	if !strings.Contains(rt.Summary, "102 UNREADABLE, 2 bucket listing(s) FAILED") {
		t.Errorf("summary = %q", rt.Summary)
	}

	s.restartOnKey(t, key)
	rt = steptest.NewRuntime("validate_objects.test")
	must(t, "validate back on the right key", step.Apply(context.Background(), rt))
	checkOutputs(t, rt, 452, 0, 26)
}

// putKMS uploads n small SSE-KMS objects under the static key's name.
func (s *server) putKMS(t testing.TB, bucket, format string, n int) {
	t.Helper()
	sse, err := encrypt.NewSSEKMS(keyName, nil)
	must(t, "sse-kms", err)
	for i := range n {
		name := fmt.Sprintf(format, i)
		_, err := s.s3.PutObject(context.Background(), bucket, name, strings.NewReader(name), int64(len(name)),
			miniogo.PutObjectOptions{ServerSideEncryption: sse})
		must(t, "put "+name, err)
	}
}

// putMultipart uploads n 6 MiB SSE-S3 objects in 5 MiB parts.
func (s *server) putMultipart(t testing.TB, bucket, format string, n int) {
	t.Helper()
	data := strings.Repeat("m", 6<<20)
	for i := range n {
		name := fmt.Sprintf(format, i)
		_, err := s.s3.PutObject(context.Background(), bucket, name, strings.NewReader(data), int64(len(data)),
			miniogo.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE(), PartSize: 5 << 20})
		must(t, "put "+name, err)
	}
}

// countReads counts the reads of the steps run while it is installed.
func countReads(t *testing.T, delay time.Duration) *atomic.Int64 {
	var n atomic.Int64
	beforeRead = func() {
		n.Add(1)
		time.Sleep(delay)
	}
	t.Cleanup(func() { beforeRead = nil })
	return &n
}

// Sample mode reads exactly `sample` objects, chosen over the whole
// listing, the same ones every time; a sample larger than the population
// reads every object.
func TestSample(t *testing.T) {
	s := startMinIO(t, randomKey(t))
	s.bucket(t, "crypt", true)
	s.bucket(t, "more", true)
	s.put(t, "crypt", "a-%03d", 150, false)
	s.put(t, "more", "b-%03d", 150, false)
	reads := countReads(t, 0)

	step := s.step(50, 8, "crypt", "more")
	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate a sample", step.Apply(context.Background(), rt))
	checkOutputs(t, rt, 50, 0, 0)
	if reads.Load() != 50 || step.last.res.seen != 300 || len(step.last.res.items) != 50 {
		t.Errorf("reads = %d of %d listed, sample of %d; want 50 of 300", reads.Load(), step.last.res.seen, len(step.last.res.items))
	}
	first := sampled(step.last)
	if first["crypt"] == 0 || first["more"] == 0 {
		t.Errorf("the sample is not spread over the listing: %v", first)
	}
	must(t, "validate the sample again", step.Apply(context.Background(), steptest.NewRuntime("validate_objects.test")))
	if again := sampled(step.last); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("the sample changed between runs:\n%v\n%v", first, again)
	}
	if last := rt.Reports[len(rt.Reports)-1]; last.Done != 50 || last.Total != 50 || last.Unit != "objects" {
		t.Errorf("last progress = %+v, want 50/50 objects", last)
	}

	reads.Store(0)
	big := s.step(1000, 8, "crypt", "more")
	rt = steptest.NewRuntime("validate_objects.test")
	must(t, "validate a sample larger than the objects", big.Apply(context.Background(), rt))
	checkOutputs(t, rt, 300, 0, 0)
	if reads.Load() != 300 {
		t.Errorf("reads = %d, want 300", reads.Load())
	}
}

// sampled counts a run's sample per bucket and lists its keys.
func sampled(r *run) map[string]int {
	m := map[string]int{}
	for _, o := range r.res.items {
		m[o.Bucket]++
		m[o.Bucket+"/"+o.Key] = 1
	}
	return m
}

// At most `concurrency` reads run at once, and that many do when reads
// are slow enough to overlap.
func TestConcurrencyHonoured(t *testing.T) {
	s := startMinIO(t, randomKey(t))
	s.bucket(t, "crypt", true)
	s.put(t, "crypt", "o-%03d", 64, false)
	countReads(t, 20*time.Millisecond)
	for _, workers := range []int{1, 4, 16} {
		step := s.step(all, workers, "crypt")
		must(t, "validate", step.Apply(context.Background(), steptest.NewRuntime("validate_objects.test")))
		if got := step.last.maxInflight.Load(); got != int64(workers) {
			t.Errorf("concurrency %d: at most %d reads at once", workers, got)
		}
	}
}

// The sample's memory is bounded by `sample`, not by the number of
// objects: 5,000 objects listed, never more than 100 held.
func TestSampleMemoryFlat(t *testing.T) {
	s := startMinIO(t, randomKey(t))
	s.bucket(t, "crypt", true)
	s.put(t, "crypt", "small-%05d", 5000, false)
	step := s.step(100, 16, "crypt")
	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate", step.Apply(context.Background(), rt))
	res := step.last.res
	if res.seen != 5000 || res.peak != 100 || len(res.items) != 100 || cap(res.items) != 100 {
		t.Errorf("reservoir: %d offered, peak %d, len %d, cap %d; want 5000 offered and never more than 100 held",
			res.seen, res.peak, len(res.items), cap(res.items))
	}
	checkOutputs(t, rt, 100, 0, 0)
}

// Reads pass a freeze: a drain holds clients, not cutover's own proof.
func TestReadsThroughFreeze(t *testing.T) {
	s := startMinIO(t, randomKey(t))
	s.bucket(t, "crypt", true)
	s.put(t, "crypt", "o-%03d", 20, false)
	ctx := context.Background()
	must(t, "freeze", s.cfg.Freeze(ctx))
	must(t, "frozen", s.cfg.ConfirmFrozen(ctx))
	defer s.cfg.Thaw(ctx)
	step := s.step(all, 4, "crypt")
	must(t, "plan while frozen", planErr(step))
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate while frozen", step.Apply(tctx, rt))
	checkOutputs(t, rt, 20, 0, 0)
}

func planErr(s *Step) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Plan(ctx, steptest.NewRuntime("validate_objects.test"))
	return err
}

func TestPlan(t *testing.T) {
	s := startMinIO(t, randomKey(t))
	s.bucket(t, "crypt", true)
	step := s.step(10, 4, "crypt")
	actions, err := step.Plan(context.Background(), steptest.NewRuntime("validate_objects.test"))
	must(t, "plan", err)
	if len(actions) != 1 || !strings.Contains(actions[0].Summary, "read the first 64 bytes of up to 10 sampled encrypted objects in crypt, 4 at once") {
		t.Errorf("plan = %+v", actions)
	}
	missing := s.step(10, 4, "crypt", "nope")
	if err := planErr(missing); err == nil || !strings.Contains(err.Error(), "bucket nope does not exist") {
		t.Errorf("plan with a missing bucket = %v", err)
	}
	rt := steptest.NewRuntime("validate_objects.test")
	if err := missing.Apply(context.Background(), rt); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("apply with a missing bucket = %v", err)
	}
}

// A step that finds nothing encrypted passes, and says nothing was proven.
func TestNothingEncrypted(t *testing.T) {
	s := startMinIO(t, randomKey(t))
	s.bucket(t, "plain", false)
	s.put(t, "plain", "p-%d", 5, false)
	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate", s.step(all, 4, "plain").Apply(context.Background(), rt))
	checkOutputs(t, rt, 0, 0, 5)
	if len(rt.Logs) != 2 || rt.Logs[0] != "bucket plain: read 0, encrypted 0 (SSE-S3 0, SSE-KMS 0, SSE-C 0 skipped), unencrypted 5, empty 0, failed 0; listed 5" ||
		!strings.Contains(rt.Logs[1], "nothing was proven readable") {
		t.Errorf("logs = %q", rt.Logs)
	}
}
