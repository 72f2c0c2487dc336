package testenv

import (
	"bytes"
	"crypto/rand"
	"os/exec"
	"slices"
	"testing"
)

// randomKey returns 32 random bytes.
func randomKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// checkKESKeys imports two keys and checks list and describe.
func checkKESKeys(t *testing.T, k *KESServer) {
	t.Helper()
	for _, name := range []string{"my-key-1", "my-key-2"} {
		if err := k.ImportKey(name, randomKey(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.ImportKey("my-key-1", randomKey(t)); err == nil {
		t.Error("re-importing my-key-1 succeeded; KES should refuse to overwrite")
	}
	names, err := k.ListKeys("my-")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"my-key-1", "my-key-2"}
	if !slices.Equal(names, want) {
		t.Errorf("ListKeys(my-) = %q, want %q", names, want)
	}
	all, err := k.ListKeys("") // pattern "*"
	if err != nil || !slices.Equal(all, want) {
		t.Errorf("ListKeys() = %q, %v; want %q", all, err, want)
	}
	if names, err := k.ListKeys("my"); err != nil || !slices.Equal(names, want) { // sent as is
		t.Errorf("ListKeys(my) = %q, %v; want %q", names, err, want)
	}
	d, err := k.DescribeKey("my-key-2")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "my-key-2" || d.Algorithm == "" || d.CreatedAt.IsZero() {
		t.Errorf("DescribeKey = %+v", d)
	}
	if _, err := k.DescribeKey("no-such-key"); err == nil {
		t.Error("DescribeKey of a missing key succeeded")
	}
}

func TestKESFilesystemKeystore(t *testing.T) {
	k := KES(t, KESOptions{})
	checkKESKeys(t, k)
	entries, err := exec.Command("ls", k.KeystoreDir).Output()
	if err != nil || !bytes.Contains(entries, []byte("my-key-1")) {
		t.Errorf("keystore dir %s: %s %v", k.KeystoreDir, entries, err)
	}
	k.Restart(t)
	if _, err := k.DescribeKey("my-key-1"); err != nil {
		t.Errorf("after restart: %v", err)
	}
}
