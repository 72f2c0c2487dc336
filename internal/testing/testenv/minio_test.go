package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// testObject is an object the MinIO test writes and reads back.
type testObject struct {
	bucket, name string
	data         []byte
	sseHeader    bool // PUT with the SSE-S3 header rather than rely on the bucket default
}

// testObjects returns objects of assorted sizes; big is sent multipart.
func testObjects(t *testing.T) []testObject {
	random := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []testObject{
		{bucket: "auto", name: "empty", data: []byte{}},
		{bucket: "auto", name: "hello.txt", data: []byte("hello, cutover\nsecond line\n")},
		{bucket: "auto", name: "dir/one-mib", data: random(1 << 20)},
		{bucket: "auto", name: "big-multipart", data: random(11 << 20)},
		{bucket: "header", name: "with-sse-header", data: random(100_000), sseHeader: true},
	}
}

// putObjects creates the buckets, turns on SSE-S3 auto-encryption for
// "auto" with mc, and uploads objs.
func putObjects(t *testing.T, m *MinIOServer, objs []testObject) {
	t.Helper()
	ctx, c := context.Background(), m.S3Client(t)
	for _, b := range []string{"auto", "header"} {
		must(t, "make bucket "+b, c.MakeBucket(ctx, b, minio.MakeBucketOptions{}))
	}
	if out, err := m.MC(t, "encrypt", "set", "sse-s3", MCAlias+"/auto"); err != nil {
		t.Fatalf("mc encrypt set: %v\n%s", err, out)
	}
	for _, o := range objs {
		opts := minio.PutObjectOptions{PartSize: 5 << 20}
		if o.sseHeader {
			opts.ServerSideEncryption = encrypt.NewSSE()
		}
		_, err := c.PutObject(ctx, o.bucket, o.name, bytes.NewReader(o.data), int64(len(o.data)), opts)
		must(t, "put "+o.bucket+"/"+o.name, err)
	}
}

// checkObjects reads objs back byte for byte and checks they are stored
// with SSE-S3.
func checkObjects(t *testing.T, m *MinIOServer, objs []testObject) {
	t.Helper()
	ctx, c := context.Background(), m.S3Client(t)
	for _, o := range objs {
		info, err := c.StatObject(ctx, o.bucket, o.name, minio.StatObjectOptions{})
		must(t, "stat "+o.name, err)
		if sse := info.Metadata.Get("X-Amz-Server-Side-Encryption"); sse != "AES256" {
			t.Errorf("%s/%s: server-side encryption %q, want AES256", o.bucket, o.name, sse)
		}
		obj, err := c.GetObject(ctx, o.bucket, o.name, minio.GetObjectOptions{})
		must(t, "get "+o.name, err)
		got, err := io.ReadAll(obj)
		obj.Close()
		must(t, "read "+o.name, err)
		if !bytes.Equal(got, o.data) {
			t.Errorf("%s/%s: read %d bytes, differing from the %d written", o.bucket, o.name, len(got), len(o.data))
		}
	}
}

// TestMinIOStaticKeyToKES is the heart of cutover: objects encrypted
// with MinIO's static key stay readable once the same key material is
// imported into KES under the same name and MinIO is restarted (through
// its supervisor, with an edited env file) to use KES instead.
func TestMinIOStaticKeyToKES(t *testing.T) {
	key := randomKey(t)
	m := MinIO(t, MinIOOptions{KMSEnv: StaticKeyEnv("my-minio-key", key)})
	objs := testObjects(t)
	putObjects(t, m, objs)
	checkObjects(t, m, objs)

	k := KES(t, KESOptions{})
	must(t, "kes import", k.ImportKey("my-minio-key", key))
	must(t, "rewrite env file", m.SetKMSEnv(k.MinIOEnv("my-minio-key")))
	env, err := os.ReadFile(m.EnvFile)
	must(t, "read env file", err)
	if strings.Contains(string(env), "MINIO_KMS_SECRET_KEY") || !strings.Contains(string(env), "MINIO_KMS_KES_ENDPOINT") {
		t.Fatalf("env file not switched to KES:\n%s", env)
	}
	m.Restart(t)
	before := kesSuccesses(t, k)
	checkObjects(t, m, objs)
	after := kesSuccesses(t, k)
	t.Logf("KES answered %v requests while MinIO served %d objects", after-before, len(objs))
	if after-before < float64(len(objs)) {
		t.Errorf("KES answered %v requests while MinIO read %d objects: MinIO is not using KES", after-before, len(objs))
	}

	out, err := m.MC(t, "head", "-n", "1", MCAlias+"/auto/hello.txt")
	if err != nil || out != "hello, cutover\n" {
		t.Errorf("mc head = %q, %v; want the first line", out, err)
	}
	newObj := []testObject{{bucket: "auto", name: "after-switch", data: []byte("written through KES")}}
	putMoreObjects(t, m, newObj)
	checkObjects(t, m, newObj)
}

// kesSuccesses returns KES's count of successful requests, from its
// Prometheus metrics.
func kesSuccesses(t *testing.T, k *KESServer) float64 {
	t.Helper()
	resp, err := k.HTTPClient().Get(k.Endpoint + "/v1/metrics")
	must(t, "kes metrics", err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, "kes metrics", err)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "kes_http_request_success") {
			v, err := strconv.ParseFloat(f[1], 64)
			must(t, "kes metric "+line, err)
			sum += v
		}
	}
	if sum == 0 {
		t.Fatalf("no kes_http_request_success in KES metrics:\n%s", b)
	}
	return sum
}

// putMoreObjects uploads objs into existing buckets.
func putMoreObjects(t *testing.T, m *MinIOServer, objs []testObject) {
	t.Helper()
	for _, o := range objs {
		_, err := m.S3Client(t).PutObject(context.Background(), o.bucket, o.name,
			bytes.NewReader(o.data), int64(len(o.data)), minio.PutObjectOptions{})
		must(t, "put "+o.name, err)
	}
}

func TestMinIOWithoutKMSAndMC(t *testing.T) {
	m := MinIO(t, MinIOOptions{})
	if out, err := m.MC(t, "mb", MCAlias+"/plain"); err != nil {
		t.Fatalf("mc mb: %v\n%s", err, out)
	}
	if out, err := m.MC(t, "ls", MCAlias); err != nil || !strings.Contains(out, "plain/") {
		t.Errorf("mc ls = %q, %v", out, err)
	}
	argv := m.RestartCommand()
	if len(argv) < 4 || argv[1] != "restart" {
		t.Errorf("RestartCommand = %q", argv)
	}
	m.Restart(t)
	if out, err := m.MC(t, "ls", MCAlias); err != nil || !strings.Contains(out, "plain/") {
		t.Errorf("after restart, mc ls = %q, %v", out, err)
	}
}

// TestStartMinIOReportsLogOfBrokenConfig checks that a server that
// cannot start is reported with its own log lines and exit status.
func TestStartMinIOReportsLogOfBrokenConfig(t *testing.T) {
	Bin(t, "minio")
	m, err := StartMinIO(t.TempDir(), MinIOOptions{KMSEnv: []string{"MINIO_KMS_SECRET_KEY=not-a-valid-key"}})
	if m != nil {
		t.Cleanup(m.Stop)
	}
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("StartMinIO with a broken KMS key = %v, want a *StartError", err)
	}
	t.Logf("the error, as a test would see it:\n%v", err)
	if !strings.Contains(se.Reason, "exited before it was ready") || !strings.Contains(se.Reason, "exit status") {
		t.Errorf("reason %q does not say MinIO exited, with its status", se.Reason)
	}
	if !strings.Contains(err.Error(), "kms") && !strings.Contains(err.Error(), "KMS") {
		t.Errorf("error does not carry MinIO's log lines about the KMS:\n%v", err)
	}
}
