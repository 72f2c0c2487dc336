package fleet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// shared is the package's 4-node MinIO fleet, started by the first test
// that needs it and closed by TestMain.
var shared struct {
	once sync.Once
	f    *Fleet
	err  error
}

// TestMain closes the shared fleet and fails the run if anything the
// package started is left over.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.f != nil {
		if err := shared.f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if err := Leftovers(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// minioFleet returns the shared 4-node MinIO fleet, starting it once.
func minioFleet(t *testing.T) *Fleet {
	t.Helper()
	requireRoot(t)
	require(t, sshdPath, keygenPath, ipPath, unsharePath, nsenterPath)
	testenv.Bin(t, "minio")
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "cutover-fleet-")
		if err != nil {
			shared.err = err
			return
		}
		shared.f, shared.err = New(dir, Options{Nodes: 4, MinIO: true})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(shared.f.Logs())
		}
	})
	return shared.f
}

func TestFleetMinIOBucketVisibleThroughEveryNode(t *testing.T) {
	f := minioFleet(t)
	ctx := context.Background()
	c1 := f.Nodes[0].S3Client(t)
	bucket := "b-" + randomHex(4)
	if err := c1.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := []byte("made on n1, " + randomHex(8))
	if _, err := c1.PutObject(ctx, bucket, "o", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Nodes {
		obj, err := n.S3Client(t).GetObject(ctx, bucket, "o", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%s: read %q, %v; want %q", n.Name, got, err, body)
		}
		if _, err := os.Stat(filepath.Join(n.hostPath(Drive), bucket)); err != nil {
			t.Fatalf("%s: the bucket is not on the node's own drive: %v", n.Name, err)
		}
	}
}

func TestFleetEnvFileIsEachNodesOwn(t *testing.T) {
	f := minioFleet(t)
	n1 := f.Nodes[0]
	orig, err := n1.ReadFile(EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(orig) != f.EnvFileContent() {
		t.Fatalf("n1's %s = %q, want the harness's content", EnvFile, orig)
	}
	t.Cleanup(func() { _ = n1.WriteFile(EnvFile, orig, 0o640) })
	marker := "# changed on n1 only " + randomHex(4) + "\n"
	if _, err := n1.Run("sh", "-c", "printf '%s' \"$1\" >> "+EnvFile, "sh", marker); err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Nodes {
		viaSSH := sshOK(t, sshView(f, n), "cat", EnvFile)
		inNode, err := n.ReadFile(EnvFile)
		if err != nil {
			t.Fatal(err)
		}
		if viaSSH != string(inNode) {
			t.Fatalf("%s: over ssh %q, in the node %q", n.Name, viaSSH, inNode)
		}
		if changed := strings.Contains(viaSSH, marker); changed != (n == n1) {
			t.Fatalf("%s: file has the marker: %v, want %v:\n%s", n.Name, changed, n == n1, viaSSH)
		}
	}
	if _, err := os.Stat(EnvFile); err == nil {
		if b, _ := os.ReadFile(EnvFile); strings.Contains(string(b), marker) {
			t.Fatalf("the host's own %s got the node's change", EnvFile)
		}
	}
}

// sshView is n's sshd with the fleet's known_hosts, for sshOK.
func sshView(f *Fleet, n *Node) *SSHServer {
	return &SSHServer{Host: n.Addr, Port: 22, User: f.User, IdentityFile: f.IdentityFile, KnownHostsFile: f.KnownHostsFile}
}

func TestFleetNodesHaveOwnAddressAndSSHD(t *testing.T) {
	f := minioFleet(t)
	for _, n := range f.Nodes {
		out := sshOK(t, sshView(f, n), "ip", "-4", "-o", "addr", "show", "eth0")
		if !strings.Contains(out, " "+n.Addr+"/24 ") {
			t.Fatalf("%s: eth0 over ssh: %q, want %s", n.Name, out, n.Addr)
		}
	}
	n2 := f.Nodes[1]
	if err := n2.KillSSHD(); err != nil {
		t.Fatal(err)
	}
	sshFails(t, sshView(f, n2), f.KnownHostsFile, "true")
	if err := n2.StartSSHD(); err != nil {
		t.Fatal(err)
	}
	sshOK(t, sshView(f, n2), "true")
}

func TestFleetMinIOStopStartAndRestartCommand(t *testing.T) {
	f := minioFleet(t)
	n3 := f.Nodes[2]
	if err := n3.StopMinIO(); err != nil {
		t.Fatal(err)
	}
	if err := n3.Healthy(); err == nil {
		t.Fatal("n3 healthy with its MinIO stopped")
	}
	if err := n3.StartMinIO(); err != nil {
		t.Fatal(err)
	}
	if out := sshOK(t, sshView(f, f.Nodes[3]), f.Nodes[3].RestartCommand()...); out != "" {
		t.Logf("restart over ssh: %s", out)
	}
	if err := f.WaitHealthy(); err != nil {
		t.Fatal(err)
	}
	env, err := f.Nodes[3].MinIOEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !containsPrefix(env, "MINIO_KMS_SECRET_KEY="+f.StaticKeyName+":") {
		t.Fatalf("n4's MinIO runs without the static key from %s: %q", EnvFile, env)
	}
}

// containsPrefix reports whether a string of list starts with prefix.
func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
