// Package testenv starts real MinIO, KES and Vault servers (and runs mc)
// on the loopback interface, for tests of cutover against the real
// thing rather than fakes.
//
// The contract:
//
//   - Server binaries come from bin/ at the repository root, built from
//     the Go module proxy by `make tools` (scripts/tools.sh). Bin resolves
//     them: a missing binary skips the test, or fails it when the CI
//     environment variable is set, with a message naming `make tools`.
//   - Every server listens on free ports of 127.0.0.1 and keeps all its
//     files (config, certificates, data, logs) in a directory of its own,
//     from t.TempDir(). Nothing under $HOME is read or written: each
//     process gets HOME set to that directory.
//   - The helpers named after a server (Vault, KES, MinIO) return only
//     once it answers its readiness probe. A server that does not (its
//     port is taken, it exits early, it is too slow) fails the test with
//     the reason, its exit status and the last lines of its log, never
//     with a bare timeout. A start that fails because a port was taken
//     meanwhile is retried once on new ports.
//   - They register a t.Cleanup that stops the server (SIGTERM, then
//     SIGKILL of its whole process group), so no process outlives the
//     test, even when it fails or panics; on Linux the servers are also
//     killed by the kernel if the test binary itself dies. When the test
//     has failed, the cleanup prints each server's log with t.Log.
//   - The StartVault, StartKES and StartMinIO variants take a directory
//     and return an error (a *StartError when the server would not come
//     up) instead of failing a test; their caller must call Stop.
//   - MinIO runs under the supervise command (internal/testing/supervisor), with
//     its environment in an env file like /etc/default/minio, so a test
//     can edit that file and restart MinIO the way a plan would.
//   - MinIO speaks plain http unless MinIOOptions.TLS is set; then it
//     serves https with a certificate signed by a throw-away CA (CAFile),
//     which the package's own clients (the readiness probe, S3Client, MC)
//     trust, and nothing else does.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath is the module whose root holds bin/.
const modulePath = "github.com/cutover/cutover"

// Bin returns the path of bin/<name> at the repository root. If it is
// missing, the test is skipped, or failed when the CI environment
// variable is set (to anything but "false" or "0"): CI must run every
// test, so a missing `make tools` there is an error.
func Bin(t testing.TB, name string) string {
	t.Helper()
	p, err := binPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("bin/%s missing: run `make tools` (%v)", name, err)
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// inCI reports whether the CI environment variable is set.
func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// binPath returns bin/<name> if it exists and is executable.
func binPath(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", name)
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", p)
	}
	return p, nil
}

// RepoRoot returns the repository root: the nearest directory, from the
// working directory up, whose go.mod declares module
// github.com/cutover/cutover.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isRootModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

// isRootModule reports whether gomod is the go.mod of modulePath.
func isRootModule(gomod string) bool {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

// pickPort returns the port for a server to listen on; tests replace
// it to provoke a port clash.
var pickPort = freePort

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago,
// for harnesses of other servers (internal/testing/kube).
func FreePort() (int, error) { return freePort() }

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePortPair returns a port p such that p and p+1 were both free, for
// servers (Vault) that also bind the next port.
func freePortPair() (int, error) {
	for range 50 {
		p, err := pickPort()
		if err != nil {
			return 0, err
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err == nil {
			ln.Close()
			return p, nil
		}
	}
	return 0, errors.New("no pair of free consecutive ports on 127.0.0.1")
}

// baseEnv is the environment every server starts with: PATH, and HOME
// pointing into its own directory so that nothing under the real home
// directory is touched.
func baseEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
}

// withRetry runs start, and once more if it failed because a port was
// taken between picking and binding it.
func withRetry[T any](start func() (T, error)) (T, error) {
	s, err := start()
	var se *StartError
	if errors.As(err, &se) && se.BindClash() {
		return start()
	}
	return s, err
}
