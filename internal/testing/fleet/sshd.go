package fleet

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshdReady is how long an sshd gets to answer with its banner.
const sshdReady = 20 * time.Second

// SSHServer is a running OpenSSH server and what a client needs to reach it.
// Its fields describe the server as it is now (RotateHostKey changes
// HostKeyFingerprint); KnownHostsFile holds the key the harness wrote at
// start and is never updated by the harness.
type SSHServer struct {
	Addr               string // host:port
	Host               string // 127.0.0.1, or the node's address in a fleet
	Port               int
	User               string // the user the tests log in as (the current user)
	IdentityFile       string // private key (no passphrase) in authorized_keys
	KnownHostsFile     string // "host key" lines for Addr, written at start
	HostKeyFingerprint string // SHA256:... of the current host key
	Dir                string // config, keys and sshd.log

	mu      sync.Mutex
	hostKey string   // host key path
	config  string   // sshd_config path
	logFile string   // sshd's stderr
	wrap    []string // argv prefix (nsenter into a node) or nil
	p       *proc
}

// SSHD starts an sshd on 127.0.0.1 and a free port, with keys and files
// of its own under t.TempDir(), and stops it (killing its sessions) at
// the end of the test.
func SSHD(t testing.TB) *SSHServer {
	t.Helper()
	require(t, sshdPath, keygenPath)
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSSHD(dir, "127.0.0.1", port, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stopOnFailure(t) })
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// newSSHD prepares dir for an sshd listening on host:port: a host key, a
// user key pair (or the one at identity, if given), authorized_keys,
// known_hosts and sshd_config. wrap prefixes sshd's argv.
func newSSHD(dir, host string, port int, wrap []string, identity string) (*SSHServer, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	s := &SSHServer{
		Addr: net.JoinHostPort(host, strconv.Itoa(port)), Host: host, Port: port, User: u.Username,
		Dir: dir, IdentityFile: identity, KnownHostsFile: filepath.Join(dir, "known_hosts"),
		hostKey: filepath.Join(dir, "ssh_host_ed25519_key"), config: filepath.Join(dir, "sshd_config"),
		logFile: filepath.Join(dir, "sshd.log"), wrap: wrap,
	}
	if s.IdentityFile == "" {
		s.IdentityFile = filepath.Join(dir, "id_ed25519")
		if _, err := genKey(s.IdentityFile, "cutover-test-user"); err != nil {
			return nil, err
		}
	}
	if err := s.writeFiles(); err != nil {
		return nil, err
	}
	return s, nil
}

// writeFiles writes the host key, authorized_keys, known_hosts and the
// config.
func (s *SSHServer) writeFiles() error {
	hk, err := genKey(s.hostKey, "cutover-test-host "+s.Addr)
	if err != nil {
		return err
	}
	s.HostKeyFingerprint = ssh.FingerprintSHA256(hk)
	userPub, err := os.ReadFile(s.IdentityFile + ".pub")
	if err != nil {
		return err
	}
	auth := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(auth, userPub, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(s.KnownHostsFile, []byte(knownHostsLine(s.Host, s.Port, hk)), 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.config, []byte(sshdConfig(s.Addr, s.hostKey, auth)), 0o600)
}

// sshdConfig is a config that works from a temporary directory, as any
// user: public keys only, from one authorized_keys file.
func sshdConfig(listen, hostKey, authorizedKeys string) string {
	return strings.Join([]string{
		"ListenAddress " + listen,
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authorizedKeys,
		"PidFile none",
		"StrictModes no",
		"UsePAM no",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"AllowTcpForwarding yes", // a node may serve as a jump host
		"X11Forwarding no",
		"PrintMotd no",
		"UseDNS no",
		"MaxStartups 200",
		"MaxSessions 100",
		"LogLevel VERBOSE",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")
}

// start runs sshd and waits for its banner.
func (s *SSHServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.exited() {
		return nil
	}
	if os.Geteuid() == 0 {
		// sshd refuses to start without its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return err
		}
	}
	argv := append(append([]string{}, s.wrap...), sshdPath, "-D", "-e", "-f", s.config)
	p, err := startProc(s.logFile, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, argv...)
	if err != nil {
		return err
	}
	s.p = p
	err = waitFor("sshd at "+s.Addr+" ready", sshdReady, func() error {
		if p.exited() {
			return errExited
		}
		return banner(s.Addr)
	})
	if err != nil {
		_ = p.kill()
		return fmt.Errorf("%w\n--- %s ---\n%s", err, s.logFile, logTail(s.logFile, 30))
	}
	return nil
}

// banner connects to addr and reads an SSH identification line.
func banner(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected banner %q", line)
	}
	return nil
}

// Start starts a stopped or killed sshd again, on the same address with
// the same host key, and waits until it answers.
func (s *SSHServer) Start() error { return s.start() }

// Stop stops the listening sshd (SIGTERM) the way a service stop does:
// sessions already open go on, new connections are refused.
func (s *SSHServer) Stop() error {
	p := s.current()
	if p == nil {
		return nil
	}
	return p.stop(5 * time.Second)
}

// Kill SIGKILLs sshd and every session it started, as a node that drops
// off the network would end them: open connections break and new ones
// are refused.
func (s *SSHServer) Kill() error {
	p := s.current()
	if p == nil {
		return nil
	}
	return p.kill()
}

// RotateHostKey replaces the host key with a new one (restarting sshd if
// it runs) and updates HostKeyFingerprint. KnownHostsFile keeps the old
// key, so a client that verifies host keys must refuse the server.
func (s *SSHServer) RotateHostKey() error {
	running := s.Running()
	if err := s.Stop(); err != nil {
		return err
	}
	hk, err := genKey(s.hostKey, "cutover-test-host "+s.Addr+" rotated")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.HostKeyFingerprint = ssh.FingerprintSHA256(hk)
	s.mu.Unlock()
	if running {
		return s.start()
	}
	return nil
}

// Running reports whether sshd is running.
func (s *SSHServer) Running() bool {
	p := s.current()
	return p != nil && !p.exited()
}

// KnownHostsLine returns a known_hosts line for the current host key.
func (s *SSHServer) KnownHostsLine() (string, error) {
	k, err := readPublicKey(s.hostKey + ".pub")
	if err != nil {
		return "", err
	}
	return knownHostsLine(s.Host, s.Port, k), nil
}

// Log returns sshd's log so far.
func (s *SSHServer) Log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// current returns the running process, if any was started.
func (s *SSHServer) current() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// stopOnFailure kills sshd and its sessions, logging its log if t failed.
func (s *SSHServer) stopOnFailure(t testing.TB) {
	if err := s.Kill(); err != nil {
		t.Errorf("stopping sshd at %s: %v", s.Addr, err)
	}
	if t.Failed() {
		t.Logf("--- sshd %s log ---\n%s", s.Addr, logTail(s.logFile, 100))
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
