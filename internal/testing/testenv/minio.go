package testenv

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/supervisor"
)

// minioReadyTimeout bounds a MinIO start or restart.
const minioReadyTimeout = 60 * time.Second

// MinIOOptions configures a MinIO server.
type MinIOOptions struct {
	// KMSEnv are the KMS lines of the env file, from StaticKeyEnv or
	// (*KESServer).MinIOEnv; none runs MinIO without a KMS.
	KMSEnv []string
	// RootUser and RootPassword default to "testenv-admin" and a random
	// password.
	RootUser, RootPassword string
	// DataDir is the single drive (default <dir>/data).
	DataDir string
	// ExtraEnv are more KEY=VALUE lines for the env file.
	ExtraEnv []string
	// TLS serves the S3 API and the console over https, with a
	// certificate for 127.0.0.1, ::1 and localhost signed by a new CA
	// (the server's CAFile), in MinIO's certs dir. The default is plain
	// http.
	TLS bool
}

// MinIOServer is a running single-drive MinIO server, started by the
// supervise command from an env file, the way systemd starts it from
// /etc/default/minio.
type MinIOServer struct {
	Endpoint      string // http://127.0.0.1:port, or https:// with TLS
	Addr          string // 127.0.0.1:port (S3 API)
	ConsoleAddr   string // 127.0.0.1:port (console)
	AccessKey     string // root user
	SecretKey     string // root password
	EnvFile       string // the env file MinIO reads at every (re)start
	SupervisorDir string // the supervisor's directory (pid, status, log)
	LogFile       string // MinIO's output and supervisor notes
	CAFile        string // with TLS: PEM CA that signed the server certificate; else ""
	CertsDir      string // MinIO's --certs-dir (public.crt and private.key with TLS)
	DataDir       string
	Dir           string
	opts          MinIOOptions
	tls           *serverTLS      // nil without TLS
	transport     *http.Transport // trusts CAFile; nil without TLS
	probe         *http.Client    // readiness probes
	supervise     string          // path of the supervise binary
	proc          *process
}

// StaticKeyEnv returns the env-file line of MinIO's static KMS key:
// MINIO_KMS_SECRET_KEY=<name>:<base64 of key>.
func StaticKeyEnv(name string, key []byte) []string {
	return []string{"MINIO_KMS_SECRET_KEY=" + name + ":" + base64.StdEncoding.EncodeToString(key)}
}

// MinIO starts a MinIO server for t, stopped at the end of t.
func MinIO(t testing.TB, opts MinIOOptions) *MinIOServer {
	t.Helper()
	Bin(t, "minio")
	m, err := StartMinIO(t.TempDir(), opts)
	if m != nil {
		register(t, "minio", m.LogFile, m)
	}
	must(t, "starting minio", err)
	return m
}

// StartMinIO writes the env file, starts MinIO under a supervisor with
// its files in dir and waits until it is ready. On error the server is
// stopped (a *StartError says why it did not come up, with MinIO's log
// and exit status; the server returned with it, if any, only serves to
// find its LogFile); on success the caller must call Stop.
func StartMinIO(dir string, opts MinIOOptions) (*MinIOServer, error) {
	m, err := newMinIO(dir, opts)
	if err != nil {
		return nil, err
	}
	return withRetry(func() (*MinIOServer, error) { return m, m.startOnce() })
}

// newMinIO fills in defaults and paths.
func newMinIO(dir string, opts MinIOOptions) (*MinIOServer, error) {
	sup, err := SuperviseBinary()
	if err != nil {
		return nil, err
	}
	opts.RootUser = defaultString(opts.RootUser, "testenv-admin")
	opts.RootPassword = defaultString(opts.RootPassword, "pw-"+randomSuffix()+randomSuffix())
	opts.DataDir = defaultString(opts.DataDir, filepath.Join(dir, "data"))
	m := &MinIOServer{AccessKey: opts.RootUser, SecretKey: opts.RootPassword,
		EnvFile: filepath.Join(dir, "minio.env"), SupervisorDir: filepath.Join(dir, "supervise"),
		LogFile: filepath.Join(dir, "supervise", supervisor.LogFile), CertsDir: filepath.Join(dir, "certs"),
		DataDir: opts.DataDir, Dir: dir, opts: opts, probe: probeClient, supervise: sup}
	if opts.TLS {
		if err := m.setupTLS(); err != nil {
			return nil, fmt.Errorf("minio tls: %w", err)
		}
	}
	return m, nil
}

// setupTLS writes the CA (CAFile, and a copy in mc's CAs dir) and the
// server certificate and key into the certs dir, where MinIO reads them
// at every (re)start, and makes the clients trust the CA.
func (m *MinIOServer) setupTLS() error {
	st, err := writeTLSFiles(filepath.Join(m.Dir, "ca.crt"),
		filepath.Join(m.CertsDir, "public.crt"), filepath.Join(m.CertsDir, "private.key"))
	if err != nil {
		return err
	}
	if err := copyFile(st.CAFile, filepath.Join(m.mcConfigDir(), "certs", "CAs", "testenv-ca.crt")); err != nil {
		return err
	}
	m.tls, m.CAFile = st, st.CAFile
	m.transport = http.DefaultTransport.(*http.Transport).Clone()
	m.transport.TLSClientConfig = st.clientTLS()
	m.probe = &http.Client{Transport: m.transport, Timeout: probeClient.Timeout}
	return nil
}

// copyFile copies src to dst (owner-only), creating dst's directory.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// startOnce picks ports, writes the env file, starts the supervisor and
// waits for MinIO.
func (m *MinIOServer) startOnce() error {
	bin, err := binPath("minio")
	if err != nil {
		return err
	}
	if err := m.pickPorts(); err != nil {
		return err
	}
	if err := m.SetKMSEnv(m.opts.KMSEnv); err != nil {
		return err
	}
	argv := []string{m.supervise, "run", "--dir", m.SupervisorDir, "--env-file", m.EnvFile, "--",
		bin, "server", "--address", m.Addr, "--console-address", m.ConsoleAddr,
		"--certs-dir", m.CertsDir, m.DataDir}
	if err := os.MkdirAll(m.SupervisorDir, 0o755); err != nil {
		return err
	}
	gen := m.generation() // of a previous attempt, if any
	m.proc, err = startProcess(filepath.Join(m.Dir, "supervise.out"), baseEnv(m.Dir), argv...)
	if err != nil {
		return err
	}
	if err := m.waitReady(gen + 1); err != nil {
		m.Stop()
		return err
	}
	return nil
}

// pickPorts chooses the S3 and console addresses.
func (m *MinIOServer) pickPorts() error {
	api, err := pickPort()
	if err != nil {
		return err
	}
	console, err := freePort()
	if err != nil {
		return err
	}
	m.Addr = "127.0.0.1:" + strconv.Itoa(api)
	m.ConsoleAddr = "127.0.0.1:" + strconv.Itoa(console)
	m.Endpoint = m.scheme() + "://" + m.Addr
	return nil
}

// scheme is "https" with TLS, else "http".
func (m *MinIOServer) scheme() string {
	if m.tls != nil {
		return "https"
	}
	return "http"
}

// SetKMSEnv rewrites the env file with the root credentials, ExtraEnv
// and the given KMS lines (replacing the previous KMS lines). MinIO
// reads it at its next (re)start.
func (m *MinIOServer) SetKMSEnv(kms []string) error {
	lines := []string{
		"# MinIO environment, like /etc/default/minio; written by internal/testing/testenv",
		"MINIO_ROOT_USER=" + m.AccessKey,
		"MINIO_ROOT_PASSWORD=" + m.SecretKey,
		"MINIO_UPDATE=off",
	}
	lines = append(append(lines, m.opts.ExtraEnv...), kms...)
	return writeFile(m.EnvFile, strings.Join(lines, "\n")+"\n")
}

// RestartCommand returns the argv that restarts MinIO through its
// supervisor and waits for the new process: what a plan's restart step
// runs (like `systemctl restart minio`).
func (m *MinIOServer) RestartCommand() []string {
	return []string{m.supervise, "restart", "--dir", m.SupervisorDir, "--timeout", "60s"}
}

// Restart runs RestartCommand and waits until MinIO is ready again,
// failing t (with MinIO's log) if either step fails.
func (m *MinIOServer) Restart(t testing.TB) {
	t.Helper()
	gen := m.generation()
	argv := m.RestartCommand()
	out, err := runCommand(nil, argv...)
	if err != nil {
		t.Fatalf("%q: %v\n%s\n%v", argv, err, out, newStartError("minio", m.LogFile, "restart failed"))
	}
	must(t, "minio after restart", m.waitReady(gen+1))
}

// WaitReady waits until MinIO answers /minio/health/ready, failing t
// with MinIO's log and exit status if it exits or is not ready in time.
func (m *MinIOServer) WaitReady(t testing.TB) {
	t.Helper()
	must(t, "minio", m.waitReady(0))
}

// waitReady polls the readiness probe; a child of a generation of at
// least minGen that exits, or a dead supervisor, ends the wait early.
func (m *MinIOServer) waitReady(minGen int) error {
	return waitReady("minio", m.LogFile, minioReadyTimeout, m.ready, func() (bool, string) {
		if dead, how := m.proc.exited(); dead {
			return true, "supervisor " + how
		}
		st, err := supervisor.ReadStatus(m.SupervisorDir)
		if err != nil || st.Generation < minGen {
			return false, ""
		}
		return st.State == supervisor.Exited || st.State == supervisor.Failed, st.String()
	})
}

// ready probes /minio/health/ready, then lists buckets with the root
// credentials, so another server that took the port cannot pass for
// this one (with TLS, both verify the certificate against CAFile).
func (m *MinIOServer) ready() error {
	resp, err := m.probe.Get(m.Endpoint + "/minio/health/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/minio/health/ready: %s", resp.Status)
	}
	c, err := m.newS3Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.probe.Timeout)
	defer cancel()
	_, err = c.ListBuckets(ctx)
	return err
}

// generation returns the supervisor's start count, 0 if unknown.
func (m *MinIOServer) generation() int {
	st, _ := supervisor.ReadStatus(m.SupervisorDir)
	return st.Generation
}

// Stop stops MinIO and its supervisor; it is idempotent.
func (m *MinIOServer) Stop() {
	if m.proc == nil {
		return
	}
	_ = supervisor.Stop(m.SupervisorDir, 2*stopGrace)
	m.proc.Stop()
	// A child.pid left behind means the supervisor died without stopping
	// MinIO; kill its group if that pid still runs our command line.
	if pid, err := supervisor.ReadPID(filepath.Join(m.SupervisorDir, supervisor.ChildPIDFile)); err == nil {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil &&
			strings.Contains(string(cmdline), m.DataDir) {
			killGroup(pid)
		}
	}
}
