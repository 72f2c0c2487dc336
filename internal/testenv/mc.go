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
// config dir and HOME are inside the server's directory, never ~/.mc.
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
	host := url.URL{Scheme: "http", User: url.UserPassword(m.AccessKey, m.SecretKey), Host: m.Addr}
	home := filepath.Join(m.Dir, "mc-home")
	return append(baseEnv(home),
		"MC_HOST_"+MCAlias+"="+host.String(),
		"MC_CONFIG_DIR="+filepath.Join(home, ".mc"),
		"MC_UPDATE=off", "MC_NO_COLOR=true", "MC_DISABLE_PAGER=true")
}

// S3Client returns a minio-go client for the server with the root
// credentials.
func (m *MinIOServer) S3Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := m.newS3Client()
	must(t, "minio client", err)
	return c
}

// newS3Client is S3Client returning an error.
func (m *MinIOServer) newS3Client() (*minio.Client, error) {
	return minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
}
