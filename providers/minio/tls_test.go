package minio_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/internal/testing/testenv"
	cm "github.com/cutover/cutover/providers/minio"
)

// unknownCA is what Go's verifier says of a certificate whose CA is not
// trusted.
const unknownCA = "certificate signed by unknown authority"

// A real MinIO serving https with a private CA: with ca_file set to that
// CA, the health probe, the admin API (server info, key status, freeze)
// and the S3 client work; without ca_file, or with another CA, they fail
// with an error that names the certificate's unknown authority.
func TestRealMinIOOverTLS(t *testing.T) {
	m := testenv.MinIO(t, testenv.MinIOOptions{TLS: true, KMSEnv: testenv.StaticKeyEnv(keyName, randomKey(t))})
	if !strings.HasPrefix(m.Endpoint, "https://") {
		t.Fatalf("testenv MinIO with TLS has endpoint %s", m.Endpoint)
	}
	c := config(m)
	c.CAFile = m.CAFile
	checkTrusted(t, c)
	for name, ca := range map[string]string{"without ca_file": "", "with another CA": otherCA(t)} {
		t.Run(name, func(t *testing.T) {
			bad := config(m)
			bad.CAFile = ca
			checkUntrusted(t, bad)
		})
	}
}

// checkTrusted runs the provider's operations over TLS with the CA.
func checkTrusted(t *testing.T, c *cm.Config) {
	t.Helper()
	ctx := context.Background()
	must(t, "ready over TLS with the CA", c.Ready(ctx))
	info, err := c.ServerInfo(ctx)
	if err != nil || info.Online != 1 {
		t.Errorf("ServerInfo over TLS = %+v, %v", info, err)
	}
	if got, err := c.KeyStatus(ctx, ""); err != nil || got != keyName {
		t.Errorf("KeyStatus over TLS = %q, %v", got, err)
	}
	s3, err := c.S3(ctx)
	must(t, "s3 client over TLS", err)
	put(t, s3, "tls", "hello", "over https")
	obj, err := s3.GetObject(ctx, "tls", "hello", miniogo.GetObjectOptions{})
	must(t, "get over TLS", err)
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || string(got) != "over https" {
		t.Errorf("read back over TLS = %q, %v", got, err)
	}
	must(t, "freeze over TLS", c.Freeze(ctx))
	must(t, "confirm frozen over TLS", c.ConfirmFrozen(ctx))
	if _, err := c.Thaw(ctx); err != nil {
		t.Errorf("thaw over TLS: %v", err)
	}
}

// checkUntrusted checks that the health probe, the admin API and the S3
// client fail, naming the deployment, the certificate's unknown authority
// and what to set. The admin API would retry a refused certificate for a
// minute and a half (madmin-go retries every network error): the Config
// checks the certificate once, up front, and fails at once instead.
func checkUntrusted(t *testing.T, c *cm.Config) {
	t.Helper()
	ctx := context.Background()
	check := func(op string, err error) {
		t.Helper()
		t.Logf("%s: %v", op, err)
		if err == nil || errors.Is(err, cm.ErrNotReady) || !strings.Contains(err.Error(), unknownCA) ||
			!strings.Contains(err.Error(), c.Describe()) || !strings.Contains(err.Error(), "TLS certificate not trusted") ||
			!strings.Contains(err.Error(), "ca_file") {
			t.Errorf("%s = %v, want an error naming %s, the unknown authority and ca_file", op, err, c.Describe())
		}
	}
	check("Ready", c.Ready(ctx))
	_, err := c.ServerInfo(ctx)
	check("ServerInfo", err)
	check("Freeze", c.Freeze(ctx))
	_, err = c.S3(ctx)
	check("S3", err)
}

// otherCA writes a self-signed CA certificate that signed nothing MinIO
// serves, and returns its file.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, "key", err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, "certificate", err)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	must(t, "write CA", os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}

// An https endpoint that answers 503 is trusted through ca_file (Ready
// reports ErrNotReady with the status, which the real MinIO is hard to
// bring to); without it, the server's private CA is refused.
func TestReadyOverTLSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/minio/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("<Error><Code>XMinioServerNotInitialized</Code></Error>"))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
	if err := os.WriteFile(ca, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := &cm.Config{Endpoint: srv.URL, AccessKey: "a", SecretKey: "b", CAFile: ca}
	err := c.Ready(ctx)
	if !errors.Is(err, cm.ErrNotReady) || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("Ready over TLS with the CA = %v, want ErrNotReady with status 503", err)
	}
	noCA := &cm.Config{Endpoint: srv.URL, AccessKey: "a", SecretKey: "b"}
	if err := noCA.Ready(ctx); err == nil || errors.Is(err, cm.ErrNotReady) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Ready over TLS without the CA = %v, want a certificate error", err)
	}
}

func TestBadCAFile(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []string{notPEM, filepath.Join(t.TempDir(), "missing.pem")} {
		c := &cm.Config{Endpoint: "https://127.0.0.1:1", AccessKey: "a", SecretKey: "b", CAFile: ca}
		if _, err := c.S3(context.Background()); err == nil {
			t.Errorf("S3() with CA file %s succeeded", ca)
		}
		if err := c.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "CA file") {
			t.Errorf("Ready with CA file %s = %v", ca, err)
		}
	}
}
