package testenv

import (
	"net/url"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MCAlias is the mc alias under which MC reaches the server.
const MCAlias = "minio"

// MC runs bin/mc with args against the server, reachable as the alias
// "minio" (MC_HOST_minio), e.g. m.MC(t, "mb", "minio/bucket"). mc's
// config dir and HOME are inside the server's directory, never ~/.mc;
// with TLS, mc trusts CAFile through the config dir's certs/CAs.
// It returns stdout; a failed run returns an error carrying stderr.
// A missing bin/mc skips or fails t as Bin does.
func (m *MinIOServer) MC(t testing.TB, args ...string) (string, error) {
	t.Helper()
	mc := Bin(t, "mc")
	return runCommand(m.mcEnv(), append([]string{mc}, args...)...)
}

// mcEnv is mc's environment: the alias, a private config dir, no
// update check, no colors, no pager.
func (m *MinIOServer) mcEnv() []string {
	host := url.URL{Scheme: m.scheme(), User: url.UserPassword(m.AccessKey, m.SecretKey), Host: m.Addr}
	return append(baseEnv(m.mcHome()),
		"MC_HOST_"+MCAlias+"="+host.String(),
		"MC_CONFIG_DIR="+m.mcConfigDir(),
		"MC_UPDATE=off", "MC_NO_COLOR=true", "MC_DISABLE_PAGER=true")
}

// mcHome is mc's HOME, inside the server's directory.
func (m *MinIOServer) mcHome() string { return filepath.Join(m.Dir, "mc-home") }

// mcConfigDir is mc's config dir (MC_CONFIG_DIR); with TLS, its
// certs/CAs holds a copy of CAFile.
func (m *MinIOServer) mcConfigDir() string { return filepath.Join(m.mcHome(), ".mc") }

// S3Client returns a minio-go client for the server with the root
// credentials; with TLS, it speaks https and trusts CAFile only.
func (m *MinIOServer) S3Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := m.newS3Client()
	must(t, "minio client", err)
	return c
}

// newS3Client is S3Client returning an error.
func (m *MinIOServer) newS3Client() (*minio.Client, error) {
	opts := &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")}
	if m.tls != nil {
		opts.Secure, opts.Transport = true, m.transport
	}
	return minio.New(m.Addr, opts)
}
