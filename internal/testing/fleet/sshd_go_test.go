package fleet

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// goClientConfig builds an x/crypto/ssh client config from the files
// SSHD writes, the way cutover's transport reads them.
func goClientConfig(t *testing.T, s *SSHServer) *ssh.ClientConfig {
	t.Helper()
	pem, err := os.ReadFile(s.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	check, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	return &ssh.ClientConfig{User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: check, Timeout: 10 * time.Second}
}

func TestSSHDFilesWorkWithGoSSH(t *testing.T) {
	s := SSHD(t)
	c, err := ssh.Dial("tcp", s.Addr, goClientConfig(t, s))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("printf ok")
	c.Close()
	if err != nil || string(out) != "ok" {
		t.Fatalf("remote printf: %q %v", out, err)
	}
	if err := s.RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	_, err = ssh.Dial("tcp", s.Addr, goClientConfig(t, s))
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("dial after RotateHostKey: %v, want a key mismatch", err)
	}
}
