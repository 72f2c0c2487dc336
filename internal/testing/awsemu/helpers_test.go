package awsemu

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

const (
	testRegion    = "eu-west-3"
	testAccount   = "111122223333"
	testAccessKey = "AKIAAWSEMUTEST000001"
	testSecretKey = "awsemu/test/secret+key"
)

// testEnv is an emulator behind an httptest server with real SDK clients.
type testEnv struct {
	emu *Emulator
	srv *httptest.Server
	kms *kms.Client
	sm  *secretsmanager.Client
	now *fakeClock
}

// fakeClock is a settable lifecycle clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newEnv(t *testing.T, mutate ...func(*Config)) *testEnv {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC()}
	cfg := Config{Region: testRegion, AccountID: testAccount,
		Credentials: map[string]string{testAccessKey: testSecretKey}, Now: clock.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &testEnv{emu: emu, srv: srv, now: clock,
		kms: kmsClient(srv.URL, testAccessKey, testSecretKey),
		sm:  smClient(srv.URL, testAccessKey, testSecretKey)}
}

// sdkConfig is an aws.Config with static credentials; it reads nothing
// from the environment or shared files.
func sdkConfig(accessKey, secretKey string) aws.Config {
	return aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	}
}

func kmsClient(url, accessKey, secretKey string) *kms.Client {
	return kms.NewFromConfig(sdkConfig(accessKey, secretKey), func(o *kms.Options) {
		o.BaseEndpoint = aws.String(url)
	})
}

func smClient(url, accessKey, secretKey string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(sdkConfig(accessKey, secretKey), func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(url)
	})
}

var ctx = context.Background()

// must returns v, failing the test given to the returned function when
// err is not nil: out := must(client.Op(ctx, in))(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// wantErr asserts that err unwraps to the SDK error type E.
func wantErr[E error](t *testing.T, err error) E {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("got error %v (%T), want %T", err, err, target)
	}
	return target
}

// wantCode asserts the API error code of err (for codes the SDK has no
// type for, e.g. ValidationException).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got error %v (%T), want API error %s", err, err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("got error code %s (%v), want %s", apiErr.ErrorCode(), err, code)
	}
}
