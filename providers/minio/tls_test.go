package minio_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cm "github.com/cutover/cutover/providers/minio"
)

// An https endpoint is trusted through ca_file; without it, the server's
// private CA is refused.
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
