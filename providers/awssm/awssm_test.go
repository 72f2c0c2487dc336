package awssm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

const (
	testRegion    = "eu-west-3"
	testAccount   = "111122223333"
	testAccessKey = "AKIACUTOVERTEST00001"
	testSecretKey = "cutover/test/secret+key"
)

// env is one emulator and a store on it.
type env struct {
	emu   *awsemu.Emulator
	url   string
	store *Store
}

// newEnv starts an emulator for t and opens a store on it through Config,
// as a plan would.
func newEnv(t *testing.T) *env {
	t.Helper()
	emu, err := awsemu.New(awsemu.Config{Region: testRegion, AccountID: testAccount,
		Credentials: map[string]string{testAccessKey: testSecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c := &Config{Name: "kms.aws", Region: testRegion, Endpoint: srv.URL, AccessKey: testAccessKey, SecretKey: testSecretKey}
	s, err := c.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, url: srv.URL, store: s.(*Store)}
}

func TestKeyStoreSuite(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) providers.KeyStore { return newEnv(t).store },
		keystoretest.Options{Replace: true, Readable: true, ListKeys: 250})
}

// TestListFollowsPagesAndFilters: 250 secrets take three pages; a pattern
// with a literal prefix is filtered by AWS, in one page.
func TestListFollowsPagesAndFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 250 {
		if err := e.store.Create(ctx, fmt.Sprintf("k-%03d", i), keystoretest.NewKey(t)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := e.store.Create(ctx, fmt.Sprintf("minio-%d", i), keystoretest.NewKey(t)); err != nil {
			t.Fatal(err)
		}
	}
	before := e.emu.RequestCount("ListSecrets")
	if n := count(t, e.store, "*"); n != 253 {
		t.Fatalf("List(*) = %d names, want 253", n)
	}
	if pages := e.emu.RequestCount("ListSecrets") - before; pages != 3 {
		t.Errorf("List(*) took %d ListSecrets calls, want 3", pages)
	}
	before = e.emu.RequestCount("ListSecrets")
	if n := count(t, e.store, "minio-?"); n != 3 {
		t.Fatalf("List(minio-?) = %d names, want 3", n)
	}
	if pages := e.emu.RequestCount("ListSecrets") - before; pages != 1 {
		t.Errorf("List(minio-?) took %d ListSecrets calls, want 1 (a name filter)", pages)
	}
}

func TestListInputFilter(t *testing.T) {
	for pattern, want := range map[string]string{"": "", "*": "", "minio-*": "minio-", "exact": "exact", "!neg*": "", "a b*": "a b"} {
		in := listInput(pattern)
		got := ""
		if len(in.Filters) == 1 {
			got = in.Filters[0].Values[0]
		}
		if got != want || aws.ToInt32(in.MaxResults) != pageSize {
			t.Errorf("listInput(%q) filters on %q, want %q", pattern, got, want)
		}
	}
}

func count(t *testing.T, s providers.KeyStore, pattern string) int {
	n := 0
	for _, err := range s.List(context.Background(), pattern) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// raw returns an SDK client on the emulator, for what KES or an operator
// would do outside the store.
func (e *env) raw() *secretsmanager.Client { return e.store.client }

func TestLayout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.store.kmsKey = "alias/kes"
	k := keystoretest.NewKey(t)
	if err := e.store.Create(ctx, "my-key", k); err != nil {
		t.Fatal(err)
	}
	out, err := e.raw().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("my-key")})
	if err != nil || out.SecretString == nil {
		t.Fatalf("the secret my-key has no SecretString (err %v)", err)
	}
	got, err := keskey.Decode([]byte(*out.SecretString))
	if err != nil || !bytes.Equal(got.Material, k.Material) {
		t.Fatalf("SecretString does not decode to the key (err %v)", err)
	}
	d, err := e.raw().DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("my-key")})
	if err != nil || aws.ToString(d.KmsKeyId) != "alias/kes" {
		t.Fatalf("KmsKeyId = %q (err %v), want alias/kes", aws.ToString(d.KmsKeyId), err)
	}
}

// TestGetSecretBinary: KES falls back to SecretBinary; so does Get.
func TestGetSecretBinary(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := keystoretest.NewKey(t)
	b, _ := keskey.Encode(k, "x", timeNow())
	_, err := e.raw().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: b})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Get(ctx, "bin")
	if err != nil || !bytes.Equal(got.Material, k.Material) {
		t.Fatalf("Get of a SecretBinary key: %v", err)
	}
}

func TestGetNotAKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.raw().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db/password"), SecretString: aws.String("hunter2hunter2")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.store.Get(ctx, "db/password")
	if !errors.Is(err, keskey.ErrInvalid) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Get of a non-key secret: err = %v, want keskey.ErrInvalid without the value", err)
	}
}

// TestDeleteScheduled: a secret someone scheduled for deletion is absent,
// and left alone.
func TestDeleteScheduled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.Create(ctx, "sched", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.raw().DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("sched")}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Delete(ctx, "sched"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Delete of a scheduled secret: %v", err)
	}
	if _, err := e.raw().RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("sched")}); err != nil {
		t.Fatalf("the scheduled secret was deleted for good: %v", err)
	}
}

func TestNames(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"", "a:b", "arn:aws:secretsmanager:eu-west-3:111122223333:secret:x", "a b", strings.Repeat("n", 513)} {
		if _, err := e.store.Get(ctx, name); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Get(%q): %v", name, err)
		}
		if err := e.store.Delete(ctx, name); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Delete(%q): %v", name, err)
		}
	}
	if err := e.store.Create(ctx, "a/b", keystoretest.NewKey(t)); !errors.Is(err, keskey.ErrInvalidName) {
		t.Errorf("Create(a/b), a name KES's API refuses: %v", err)
	}
}

func TestStatusBadCredentials(t *testing.T) {
	e := newEnv(t)
	c := &Config{Name: "kms.aws", Region: testRegion, Endpoint: e.url, AccessKey: testAccessKey, SecretKey: "wrong-secret-key-value"}
	s, err := c.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Status(context.Background())
	if err == nil {
		t.Fatal("Status with a wrong secret key succeeded")
	}
	if strings.Contains(err.Error(), "wrong-secret-key-value") {
		t.Fatalf("error shows the secret key: %v", err)
	}
}

func TestRetriedFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.emu.FailNext("CreateSecret", "InternalServiceError")
	e.emu.FailNext("ListSecrets", "ThrottlingException")
	if err := e.store.Create(ctx, "k", keystoretest.NewKey(t)); err != nil {
		t.Fatalf("Create after one transient fault: %v", err)
	}
	if n := count(t, e.store, "*"); n != 1 {
		t.Fatalf("List after one throttling fault = %d", n)
	}
}

func timeNow() time.Time { return time.Now().UTC() }
