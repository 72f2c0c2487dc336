package testenv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// TestMinIOOverTLS starts MinIO with TLS and checks that the endpoint is
// https, that the certificate is the one in the certs dir and is signed
// by CAFile for 127.0.0.1, that the S3 client and mc trust it while a
// client with the system roots (or mc without its CAs dir) does not, that SSE-C (which MinIO refuses
// over plain http) works, and that all of it survives a restart through
// the supervisor.
func TestMinIOOverTLS(t *testing.T) {
	m := MinIO(t, MinIOOptions{TLS: true, KMSEnv: StaticKeyEnv("my-minio-key", randomKey(t))})
	if !strings.HasPrefix(m.Endpoint, "https://127.0.0.1:") || m.CAFile == "" {
		t.Fatalf("Endpoint %q, CAFile %q; want https://127.0.0.1:port and a CA file", m.Endpoint, m.CAFile)
	}
	checkServerCert(t, m)
	checkUntrusted(t, m)
	if out, err := m.MC(t, "mb", MCAlias+"/tls"); err != nil {
		t.Fatalf("mc mb over TLS: %v\n%s", err, out)
	}
	sse, err := encrypt.NewSSEC(randomKey(t))
	must(t, "sse-c key", err)
	putSSEC(t, m, sse)
	m.Restart(t)
	if !strings.HasPrefix(m.Endpoint, "https://") {
		t.Errorf("after restart, Endpoint = %q", m.Endpoint)
	}
	getSSEC(t, m, sse)
	if out, err := m.MC(t, "ls", MCAlias+"/tls"); err != nil || !strings.Contains(out, "ssec") {
		t.Errorf("after restart, mc ls over TLS = %q, %v", out, err)
	}
	must(t, "remove mc's CAs", os.RemoveAll(filepath.Join(m.mcConfigDir(), "certs", "CAs")))
	if out, err := m.MC(t, "ls", MCAlias+"/tls"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("mc ls without the CA in its config dir = %q, %v; want a certificate error", out, err)
	}
}

// checkServerCert checks that MinIO serves the certificate of its certs
// dir, and that it verifies against CAFile for 127.0.0.1.
func checkServerCert(t *testing.T, m *MinIOServer) {
	t.Helper()
	resp, err := m.probe.Get(m.Endpoint + "/minio/health/live")
	must(t, "https probe", err)
	resp.Body.Close()
	served := resp.TLS.PeerCertificates[0]
	pub, err := os.ReadFile(filepath.Join(m.CertsDir, "public.crt"))
	must(t, "read public.crt", err)
	if block, _ := pem.Decode(pub); block == nil || !bytes.Equal(block.Bytes, served.Raw) {
		t.Errorf("MinIO serves a certificate other than %s/public.crt", m.CertsDir)
	}
	ca, err := os.ReadFile(m.CAFile)
	must(t, "read CA file", err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("%s holds no PEM certificate", m.CAFile)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := served.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
}

// checkUntrusted checks that a client without the CA is refused.
func checkUntrusted(t *testing.T, m *MinIOServer) {
	t.Helper()
	resp, err := http.Get(m.Endpoint + "/minio/health/live")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s with the system roots succeeded", m.Endpoint)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET with the system roots = %v, want a certificate error", err)
	}
}

// putSSEC creates bucket "tls" object "ssec" with SSE-C.
func putSSEC(t *testing.T, m *MinIOServer, sse encrypt.ServerSide) {
	t.Helper()
	data := "customer-keyed\n"
	_, err := m.S3Client(t).PutObject(context.Background(), "tls", "ssec", strings.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ServerSideEncryption: sse})
	must(t, "put SSE-C over TLS", err)
}

// getSSEC reads "tls/ssec" back with its key, and checks MinIO refuses it
// without.
func getSSEC(t *testing.T, m *MinIOServer, sse encrypt.ServerSide) {
	t.Helper()
	ctx, c := context.Background(), m.S3Client(t)
	obj, err := c.GetObject(ctx, "tls", "ssec", minio.GetObjectOptions{ServerSideEncryption: sse})
	must(t, "get SSE-C", err)
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || string(got) != "customer-keyed\n" {
		t.Errorf("get SSE-C object with its key = %q, %v", got, err)
	}
	if _, err := c.StatObject(ctx, "tls", "ssec", minio.StatObjectOptions{}); err == nil {
		t.Error("stat of the SSE-C object without its key succeeded")
	}
}
