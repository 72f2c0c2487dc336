package envstep

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/envfile"
)

// TestReadKMS: which KMS and default key MinIO's env configures, and the
// refusals: two KMSes, a KMS without a default key, a bad static key
// (whose value never appears in the error).
func TestReadKMS(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, tc := range []struct {
		env, want, err string
	}{
		{env: "MINIO_ROOT_USER=admin\n", want: "no KMS"},
		{env: "MINIO_KMS_SECRET_KEY=minio-key:" + key + "\n", want: "MinIO's static key (MINIO_KMS_SECRET_KEY) minio-key"},
		{env: "MINIO_KMS_KES_ENDPOINT=https://a:7373/,https://b:7373\nMINIO_KMS_KES_KEY_NAME=k1\n", want: "KES at https://a:7373,https://b:7373 k1"},
		{env: "MINIO_KMS_SERVER=https://km:7373\nMINIO_KMS_ENCLAVE=e\nMINIO_KMS_SSE_KEY=k2\n", want: `AIStor Key Manager at https://km:7373 (enclave "e") k2`},
		{env: "MINIO_KMS_KES_ENDPOINT=https://a:7373\n", err: "names no default key (MINIO_KMS_KES_KEY_NAME)"},
		{env: "MINIO_KMS_KES_ENDPOINT=https://a:7373\nMINIO_KMS_KES_KEY_NAME=k\nMINIO_KMS_SECRET_KEY=minio-key:" + key + "\n", err: "more than one KMS"},
		{env: "MINIO_KMS_SECRET_KEY=minio-key:c2hvcnQ=\n", err: "the key is 5 bytes"},
		{env: "# MINIO_KMS_KES_ENDPOINT=https://a:7373\n", want: "no KMS"},
	} {
		f, err := envfile.Parse([]byte(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		m, err := readKMS(f)
		got := strings.TrimSpace(m.describe() + " " + m.key)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.env, err, tc.err)
		case tc.err != "" && strings.Contains(err.Error(), "c2hvcnQ"):
			t.Errorf("%q: the error shows the static key: %v", tc.env, err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %q (%v), want %q", tc.env, got, err, tc.want)
		}
	}
}
