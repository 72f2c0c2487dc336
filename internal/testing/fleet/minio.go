package fleet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cutover/cutover/internal/testing/supervisor"
	"github.com/cutover/cutover/internal/testing/testenv"
)

// minioHealthy bounds the wait for a (re)started cluster.
const minioHealthy = 3 * time.Minute

// healthClient sends the health probes.
var healthClient = &http.Client{Timeout: 3 * time.Second}

// initMinIO sets the credentials and static key, and finds the binaries
// when MinIO is requested.
func (f *Fleet) initMinIO() error {
	f.RootUser, f.RootPassword = f.opts.RootUser, f.opts.RootPassword
	if f.RootUser == "" {
		f.RootUser = "fleetadmin"
	}
	if f.RootPassword == "" {
		f.RootPassword = "pw-" + randomHex(12)
	}
	f.StaticKeyName, f.StaticKey = "minio-static-key", make([]byte, 32)
	_, _ = rand.Read(f.StaticKey)
	if !f.opts.MinIO {
		return nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	f.minio = filepath.Join(root, "bin", "minio")
	if _, err := os.Stat(f.minio); err != nil {
		return fmt.Errorf("%w: run `make tools`", err)
	}
	f.supervise, err = testenv.SuperviseBinary()
	return err
}

// EnvFileContent is what the harness writes to every node's EnvFile:
// the same bytes on every node.
func (f *Fleet) EnvFileContent() string {
	kms := f.opts.KMSEnv
	if kms == nil {
		kms = testenv.StaticKeyEnv(f.StaticKeyName, f.StaticKey)
	}
	lines := []string{
		"# MinIO environment (EnvironmentFile of the minio service); written by the test fleet",
		"MINIO_ROOT_USER=" + f.RootUser,
		"MINIO_ROOT_PASSWORD=" + f.RootPassword,
		"MINIO_CI_CD=1",
		"MINIO_UPDATE=off",
	}
	lines = append(append(lines, f.opts.ExtraEnv...), kms...)
	return strings.Join(lines, "\n") + "\n"
}

// startMinIO writes every node's env file, starts every node's
// supervisor and waits until the cluster is healthy on every node.
func (f *Fleet) startMinIO() error {
	for _, n := range f.Nodes {
		if err := os.WriteFile(n.hostPath(EnvFile), []byte(f.EnvFileContent()), 0o640); err != nil {
			return err
		}
		if err := n.StartMinIO(); err != nil {
			return err
		}
	}
	return f.WaitHealthy()
}

// volumes is the drive list every server is started with.
func (f *Fleet) volumes() string {
	return fmt.Sprintf("http://%s.{%d...%d}:9000%s", f.net.prefix, 11, 10+len(f.Nodes), Drive)
}

// StartMinIO starts the node's supervisor, which starts MinIO with the
// variables of EnvFile; it does not wait for MinIO (see WaitHealthy).
func (n *Node) StartMinIO() error {
	if n.minio != nil && !n.minio.exited() {
		return nil
	}
	f := n.fleet
	for _, d := range []string{Drive, SupervisorDir, "/srv/certs"} {
		if err := os.MkdirAll(n.hostPath(d), 0o755); err != nil {
			return err
		}
	}
	argv := append(n.enter(), f.supervise, "run", "--dir", SupervisorDir, "--env-file", EnvFile, "--",
		f.minio, "server", "--address", n.Addr+":9000", "--console-address", n.Addr+":9001",
		"--certs-dir", "/srv/certs", f.volumes())
	p, err := startProc(filepath.Join(n.Dir, "supervise.out"),
		[]string{"PATH=" + os.Getenv("PATH"), "HOME=/srv"}, argv...)
	if err != nil {
		return err
	}
	n.minio = p
	return nil
}

// StopMinIO stops the node's MinIO and its supervisor.
func (n *Node) StopMinIO() error {
	if n.minio == nil || n.minio.exited() {
		return nil
	}
	err := supervisor.Stop(n.hostPath(SupervisorDir), 30*time.Second)
	if kerr := n.minio.kill(); err == nil {
		err = kerr
	}
	return err
}

// RestartMinIO restarts the node's MinIO through its supervisor, which
// re-reads EnvFile, and waits until the new process has stayed up.
func (n *Node) RestartMinIO() error {
	return supervisor.Restart(n.hostPath(SupervisorDir), 90*time.Second)
}

// RestartCommand is the command that restarts MinIO when run on the
// node (over SSH): the supervisor re-reads EnvFile, like `systemctl
// restart minio`.
func (n *Node) RestartCommand() []string {
	return []string{n.fleet.supervise, "restart", "--dir", SupervisorDir, "--timeout", "90s"}
}

// MinIOEndpoint is the node's S3 endpoint, http://addr:9000.
func (n *Node) MinIOEndpoint() string { return "http://" + n.Addr + ":9000" }

// MinIOEnv returns the variables the node's MinIO runs with now, as its
// supervisor read them from EnvFile at its last start.
func (n *Node) MinIOEnv() ([]string, error) {
	st, err := supervisor.ReadStatus(n.hostPath(SupervisorDir))
	if err != nil {
		return nil, err
	}
	pid, err := supervisor.ReadPID(n.hostPath(SupervisorDir + "/" + supervisor.ChildPIDFile))
	if err != nil {
		return nil, fmt.Errorf("%s: minio is %s: %w", n.Name, st, err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// S3 returns a client of the node's MinIO with the root credentials.
func (n *Node) S3() (*minio.Client, error) {
	return minio.New(n.Addr+":9000", &minio.Options{
		Creds: credentials.NewStaticV4(n.fleet.RootUser, n.fleet.RootPassword, ""),
	})
}

// Healthy returns nil if the node reports the whole cluster healthy
// (/minio/health/cluster answers 200).
func (n *Node) Healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), healthClient.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.MinIOEndpoint()+"/minio/health/cluster", nil)
	resp, err := healthClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: /minio/health/cluster: %s", n.Name, resp.Status)
	}
	return nil
}

// WaitHealthy waits until every node reports the cluster healthy; an
// error names the nodes that do not, with the end of their logs.
func (f *Fleet) WaitHealthy() error {
	err := waitFor("minio healthy on every node", minioHealthy, func() error {
		var bad []string
		for _, n := range f.Nodes {
			if err := n.Healthy(); err != nil {
				bad = append(bad, n.Name+": "+err.Error())
			}
		}
		if len(bad) == 0 {
			return nil
		}
		return errors.New(strings.Join(bad, "; "))
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, f.Logs())
	}
	return nil
}

// S3Client is S3 for a test: a client of the node's MinIO, failing t if
// it cannot be made.
func (n *Node) S3Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := n.S3()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
