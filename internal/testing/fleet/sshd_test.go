package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sshCmd returns an OpenSSH client command that runs remote on s,
// verifying the host key against knownHosts.
func sshCmd(s *SSHServer, knownHosts string, remote ...string) *exec.Cmd {
	args := []string{"-F", "/dev/null", "-i", s.IdentityFile, "-p", strconv.Itoa(s.Port),
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-l", s.User, s.Host, "--"}
	return exec.Command("/usr/bin/ssh", append(args, remote...)...)
}

// sshOK runs remote on s and returns its output, failing t on error.
func sshOK(t *testing.T, s *SSHServer, remote ...string) string {
	t.Helper()
	out, err := sshCmd(s, s.KnownHostsFile, remote...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh %v: %v\n%s", remote, err, out)
	}
	return string(out)
}

// sshFails runs remote on s with knownHosts and returns its output,
// failing t if it succeeds.
func sshFails(t *testing.T, s *SSHServer, knownHosts string, remote ...string) string {
	t.Helper()
	out, err := sshCmd(s, knownHosts, remote...).CombinedOutput()
	if err == nil {
		t.Fatalf("ssh %v succeeded, want a failure:\n%s", remote, out)
	}
	return string(out)
}

func TestSSHDLoginAndHostKey(t *testing.T) {
	require(t, "/usr/bin/ssh")
	s := SSHD(t)
	if got := sshOK(t, s, "echo", "hello from", "$(id -un)"); got != "hello from "+s.User+"\n" {
		t.Fatalf("remote echo = %q", got)
	}
	kh, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[127.0.0.1]:" + strconv.Itoa(s.Port) + " ssh-ed25519 "; !strings.HasPrefix(string(kh), want) {
		t.Fatalf("known_hosts = %q, want a line starting %q", kh, want)
	}
	if !strings.HasPrefix(s.HostKeyFingerprint, "SHA256:") {
		t.Fatalf("HostKeyFingerprint = %q", s.HostKeyFingerprint)
	}
	if !strings.Contains(s.Log(), "Accepted publickey for "+s.User) {
		t.Fatalf("sshd log has no accepted public key:\n%s", s.Log())
	}
}

func TestSSHDKillDropsSessionsAndStartComesBack(t *testing.T) {
	require(t, "/usr/bin/ssh")
	s := SSHD(t)
	session := sshCmd(s, s.KnownHostsFile, "echo started; exec sleep 300")
	out, err := session.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("started\n"))
	if _, err := out.Read(first); err != nil || string(first) != "started\n" {
		t.Fatalf("session did not start: %q %v", first, err)
	}
	ended := make(chan error, 1)
	go func() { ended <- session.Wait() }()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the open session ended with status 0 after Kill")
		}
	case <-time.After(30 * time.Second):
		_ = session.Process.Kill()
		t.Fatal("the open session still runs 30s after Kill")
	}
	if s.Running() {
		t.Fatal("Running() after Kill")
	}
	if msg := sshFails(t, s, s.KnownHostsFile, "true"); !strings.Contains(msg, "Connection refused") {
		t.Fatalf("ssh to a killed sshd: %s", msg)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	sshOK(t, s, "true")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	sshFails(t, s, s.KnownHostsFile, "true")
}

func TestSSHDRotateHostKeyIsRefused(t *testing.T) {
	require(t, "/usr/bin/ssh")
	s := SSHD(t)
	before := s.HostKeyFingerprint
	if err := s.RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	if s.HostKeyFingerprint == before {
		t.Fatal("fingerprint unchanged after RotateHostKey")
	}
	if msg := sshFails(t, s, s.KnownHostsFile, "true"); !strings.Contains(msg, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("ssh with the old known_hosts: %s", msg)
	}
	line, err := s.KnownHostsLine()
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(fresh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := sshCmd(s, fresh, "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh with the new key: %v\n%s", err, out)
	}
}
