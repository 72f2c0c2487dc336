package sshtransport_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/testing/fleet"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/internal/transport/sshtransport"
)

func hostOf(s *fleet.SSHServer) *sshtransport.Host {
	return sshtransport.New(&sshtransport.Config{Name: "n1", Address: s.Host, Port: s.Port, User: s.User,
		IdentityFile: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 30 * time.Second})
}

// TestReplaceAndRestore: an atomic replace over SFTP keeps the file's mode
// and owner and leaves no temporary file; Restore sets the recorded ones;
// Check measures the clock skew and refuses one beyond max_clock_skew.
func TestReplaceAndRestore(t *testing.T) {
	s := fleet.SSHD(t)
	h := hostOf(s)
	defer h.Close()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "minio")
	if err := os.WriteFile(path, []byte("A=1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := h.Writable(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := h.Replace(ctx, path, []byte("A=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, meta, err := fsutil.ReadFile(path)
	if err != nil || string(data) != "A=2\n" || meta.Mode != 0o640 {
		t.Fatalf("after Replace: %q mode %v err %v; want A=2 and mode 0640", data, meta.Mode, err)
	}
	uid := meta.UID
	if os.Geteuid() == 0 && s.User == "root" {
		uid = 4242 // as root over SSH, the owner is set too
	}
	if err := h.Restore(ctx, path, []byte("A=1\n"), fsutil.Meta{Mode: 0o604, UID: uid, GID: meta.GID, HasOwner: true}); err != nil {
		t.Fatal(err)
	}
	got, rmeta, err := h.ReadFile(ctx, path)
	if err != nil || string(got) != "A=1\n" || rmeta.Mode != 0o604 || rmeta.UID != uid {
		t.Fatalf("after Restore: %q %+v %v, want mode 0604 and uid %d", got, rmeta, err, uid)
	}
	if err := h.Replace(ctx, path, []byte("A=3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, m, _ := h.ReadFile(ctx, path); m.Mode != 0o604 || m.UID != uid {
		t.Fatalf("Replace did not keep mode and owner: %+v, want 0604 and uid %d", m, uid)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the file (no temporary left)", len(entries))
	}
	if err := h.Writable(ctx, path+".missing"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Writable of a missing file: %v", err)
	}
	line, err := h.Check(ctx)
	if err != nil || !strings.Contains(line, "clock skew") {
		t.Fatalf("Check: %q, %v", line, err)
	}
	strict := hostOf(s)
	defer strict.Close()
	strict.Config().MaxClockSkew = time.Nanosecond
	if _, err := strict.Check(ctx); err == nil || !strings.Contains(err.Error(), "exceeds max_clock_skew 1ns") {
		t.Fatalf("Check with max_clock_skew 1ns: %v, want a refusal", err)
	}
}

// TestHostKeyRefused: a changed host key and an unknown one are refused,
// naming the fingerprint the server presents.
func TestHostKeyRefused(t *testing.T) {
	s := fleet.SSHD(t)
	if err := s.RotateHostKey(); err != nil {
		t.Fatal(err)
	}
	_, err := hostOf(s).Check(context.Background())
	var he *sshtransport.HostKeyError
	if !errors.As(err, &he) || !errors.Is(err, transport.ErrHostKey) {
		t.Fatalf("Check after the host key changed: %v, want a HostKeyError", err)
	}
	if !strings.Contains(err.Error(), "CHANGED") || !strings.Contains(err.Error(), s.HostKeyFingerprint) {
		t.Fatalf("error %q does not say CHANGED with the new fingerprint %s", err, s.HostKeyFingerprint)
	}
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := hostOf(s)
	h.Config().KnownHosts = empty
	_, err = h.Check(context.Background())
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "unknown host key") || !strings.Contains(err.Error(), s.HostKeyFingerprint) {
		t.Fatalf("Check with an empty known_hosts: %v", err)
	}
}

// TestHandshakeDeadline: a host that accepts TCP but never speaks SSH
// fails at its connect deadline, as unreachable.
func TestHandshakeDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, nil, 0o600)
	key := filepath.Join(t.TempDir(), "id")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	h := sshtransport.New(&sshtransport.Config{Name: "silent", Address: "127.0.0.1", Port: port, User: "x",
		IdentityFile: key, KnownHosts: kh, ConnectTimeout: 500 * time.Millisecond})
	_, _, err = h.ReadFile(context.Background(), "/etc/hostname")
	if !errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "no answer within 500ms") {
		t.Fatalf("ReadFile from a silent host: %v, want unreachable after 500ms", err)
	}
}

// TestRunEnvOffCommandLine: a command's environment reaches it, and no
// process on the host carries the value on its command line while it
// runs; the output is masked.
func TestRunEnvOffCommandLine(t *testing.T) {
	s := fleet.SSHD(t)
	h := hostOf(s)
	defer h.Close()
	const value = "s3cr3t-value-on-stdin"
	script := `found=no
for f in /proc/[0-9]*/cmdline; do
  c=$( (tr '\0' ' ' < "$f") 2>/dev/null)
  case "$c" in *"$TOKEN"*) found=yes;; esac
done
echo "length=${#TOKEN} on-a-command-line=$found echo=$TOKEN"`
	var out strings.Builder
	secrets := &secret.Set{}
	secrets.Add(value)
	err := h.Run(context.Background(), transport.Command{Argv: []string{"sh", "-c", script}, Env: map[string]string{"TOKEN": value}, Output: &out, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	want := "length=21 on-a-command-line=no echo=(sensitive)\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	err = h.Run(context.Background(), transport.Command{Argv: []string{"sh", "-c", "echo failing; exit 3"}, Output: &out, Secrets: secrets})
	if err == nil || !strings.Contains(err.Error(), "exited with status 3: failing") {
		t.Fatalf("failing command: %v", err)
	}
}
