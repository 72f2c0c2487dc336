package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/cutover/cutover/internal/testing/keskeytest"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// TestKESUsesKeysCutoverCreated: keys written by the store are described
// and used by a KES server started on the directory; a Replace is used by
// KES after a restart (KES caches keys it has read).
func TestKESUsesKeysCutoverCreated(t *testing.T) {
	testenv.Bin(t, "kes")
	s := newStore(t)
	ctx := context.Background()
	aes, chacha := keystoretest.NewKey(t), keystoretest.NewKey(t)
	chacha.Algorithm = keskey.ChaCha20
	if err := s.Create(ctx, "minio-key", aes); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "chacha-key", chacha); err != nil {
		t.Fatal(err)
	}
	k := testenv.KES(t, testenv.KESOptions{KeystoreDir: s.Dir()})
	for name, key := range map[string]providers.Key{"minio-key": aes, "chacha-key": chacha} {
		d, err := k.DescribeKey(name)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != name || d.Algorithm != key.Algorithm || d.CreatedBy != keskey.DefaultCreatedBy {
			t.Errorf("KES describes %s as %+v", name, d)
		}
		keskeytest.ProveSameKey(t, k, name, key)
	}
	names, err := k.ListKeys("")
	if err != nil || len(names) != 2 {
		t.Errorf("KES lists %v (err %v), want the 2 keys", names, err)
	}

	next := keystoretest.NewKey(t)
	if err := s.Replace(ctx, "minio-key", next); err != nil {
		t.Fatal(err)
	}
	k.Restart(t)
	keskeytest.ProveSameKey(t, k, "minio-key", next)
}

// TestReadsKeysKESImported: a key imported through KES's API is read by
// the store with the same material.
func TestReadsKeysKESImported(t *testing.T) {
	k := testenv.KES(t, testenv.KESOptions{})
	mat := make([]byte, 32)
	rand.Read(mat)
	if err := k.ImportKey("imported-key", mat); err != nil {
		t.Fatal(err)
	}
	s, err := New("kms.kes", k.KeystoreDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "imported-key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Material, mat) || got.Algorithm != keskey.AES256 {
		t.Fatalf("Get returned other material or algorithm %q", got.Algorithm)
	}
	if n := names(t, s, "*"); len(n) != 1 || n[0] != "imported-key" {
		t.Fatalf("List = %v", n)
	}
}
