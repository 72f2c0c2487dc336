package miniostatic_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/cutover/cutover/internal/testing/keskeytest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/providers/miniostatic"
)

// object is one object the interop test writes and reads back.
type object struct {
	bucket, name string
	data         []byte
	header       bool // PUT with the SSE-S3 header, not the bucket default
}

func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStaticKeyToKES is the product's first use case, with cutover's
// stores in the middle: MinIO encrypts objects with its static key;
// miniostatic reads the key from MinIO's env file; kes imports it into a
// real KES; MinIO restarts on KES (env file rewritten) and reads every
// object back byte for byte.
func TestStaticKeyToKES(t *testing.T) {
	ctx := context.Background()
	key := randomData(t, 32)
	m := testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv("my-minio-key", key)})
	objs := []object{
		{"auto", "hello.txt", []byte("hello, cutover\n"), false},
		{"auto", "dir/one-mib", randomData(t, 1<<20), false},
		{"auto", "multipart", randomData(t, 11<<20), false},
		{"header", "with-sse-header", randomData(t, 100_000), true},
	}
	putObjects(t, m, objs)

	local, err := (&miniostatic.Config{Name: "kms.local", EnvFile: m.EnvFile}).Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := listNames(t, local)
	if len(names) != 1 || names[0] != "my-minio-key" {
		t.Fatalf("the static store lists %v, want [my-minio-key]", names)
	}
	material, err := local.Get(ctx, "my-minio-key")
	if err != nil || !bytes.Equal(material.Material, key) {
		t.Fatalf("Get: %v (or material differs from MinIO's env)", err)
	}

	k := testenv.KES(t, testenv.KESOptions{})
	target, err := kes.New(kes.Config{Name: "kms.kes", Endpoint: k.Endpoint, APIKey: k.APIKey, CAFile: k.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Create(ctx, "my-minio-key", material); err != nil {
		t.Fatal(err)
	}
	if err := target.Prove(ctx, "my-minio-key"); err != nil {
		t.Fatal(err)
	}
	keskeytest.ProveSameKey(t, k, "my-minio-key", material)

	if err := m.SetKMSEnv(k.MinIOEnv("my-minio-key")); err != nil {
		t.Fatal(err)
	}
	m.Restart(t)
	before := k.Requests(t)
	checkObjects(t, m, objs)
	if served := k.Requests(t) - before; served < float64(len(objs)) {
		t.Errorf("KES served %v requests while MinIO read %d objects: MinIO is not using KES", served, len(objs))
	}

	after := []object{{"auto", "after-switch", []byte("written through KES"), false}}
	putObjects2(t, m, after)
	checkObjects(t, m, after)

	// The store opened before the switch keeps its key; a new one finds
	// that MinIO no longer uses a static key.
	if _, err := local.Get(ctx, "my-minio-key"); err != nil {
		t.Errorf("the opened store lost its key: %v", err)
	}
	if _, err := (&miniostatic.Config{EnvFile: m.EnvFile}).Open(ctx); !errors.Is(err, miniostatic.ErrNoKey) {
		t.Errorf("Open after the switch: %v, want ErrNoKey", err)
	}
}

func listNames(t *testing.T, s providers.KeyStore) []string {
	t.Helper()
	var names []string
	for n, err := range s.List(context.Background(), "*") {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// putObjects makes the buckets ("auto" encrypted by default with SSE-S3)
// and uploads objs.
func putObjects(t *testing.T, m *testenv.MinIOServer, objs []object) {
	t.Helper()
	ctx, c := context.Background(), m.S3Client(t)
	for _, b := range []string{"auto", "header"} {
		if err := c.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetBucketEncryption(ctx, "auto", sse.NewConfigurationSSES3()); err != nil {
		t.Fatal(err)
	}
	putObjects2(t, m, objs)
}

// putObjects2 uploads objs into existing buckets.
func putObjects2(t *testing.T, m *testenv.MinIOServer, objs []object) {
	t.Helper()
	c := m.S3Client(t)
	for _, o := range objs {
		opts := minio.PutObjectOptions{PartSize: 5 << 20}
		if o.header {
			opts.ServerSideEncryption = encrypt.NewSSE()
		}
		if _, err := c.PutObject(context.Background(), o.bucket, o.name, bytes.NewReader(o.data), int64(len(o.data)), opts); err != nil {
			t.Fatalf("put %s/%s: %v", o.bucket, o.name, err)
		}
	}
}

// checkObjects reads objs back byte for byte and checks they are SSE-S3.
func checkObjects(t *testing.T, m *testenv.MinIOServer, objs []object) {
	t.Helper()
	ctx, c := context.Background(), m.S3Client(t)
	for _, o := range objs {
		info, err := c.StatObject(ctx, o.bucket, o.name, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("stat %s/%s: %v", o.bucket, o.name, err)
		}
		if s := info.Metadata.Get("X-Amz-Server-Side-Encryption"); s != "AES256" {
			t.Errorf("%s/%s: server-side encryption %q, want AES256", o.bucket, o.name, s)
		}
		obj, err := c.GetObject(ctx, o.bucket, o.name, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, o.data) {
			t.Errorf("%s/%s: read %d bytes (%v), want the %d written", o.bucket, o.name, len(got), err, len(o.data))
		}
	}
}
