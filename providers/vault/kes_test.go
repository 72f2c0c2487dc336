package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/cutover/cutover/internal/testing/keskeytest"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/keskey"
)

// kesOn starts a KES server whose keystore is the store's KV v2 prefix.
func kesOn(t *testing.T, s *Store) *testenv.KESServer {
	t.Helper()
	testenv.Bin(t, "kes")
	return testenv.KES(t, testenv.KESOptions{Vault: vaultServer, Engine: s.cfg.Engine, Prefix: s.cfg.Prefix})
}

// TestKESUsesKeysCutoverCreated: a key the store created is described and
// used by KES configured on the same KV v2 path.
func TestKESUsesKeysCutoverCreated(t *testing.T) {
	s := tokenStore(t, V2)
	k := keystoretest.NewKey(t)
	if err := s.Create(context.Background(), "minio-key", k); err != nil {
		t.Fatal(err)
	}
	kes := kesOn(t, s)
	d, err := kes.DescribeKey("minio-key")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "minio-key" || d.Algorithm != keskey.AES256 || d.CreatedBy != keskey.DefaultCreatedBy {
		t.Errorf("KES describes the key as %+v", d)
	}
	keskeytest.ProveSameKey(t, kes, "minio-key", k)
	if names, err := kes.ListKeys(""); err != nil || len(names) != 1 {
		t.Errorf("KES lists %v (err %v)", names, err)
	}
}

// TestReadsKeysKESImported: a key imported through KES is read by the
// store with the same material, and listed; Delete removes it for KES.
func TestReadsKeysKESImported(t *testing.T) {
	s := tokenStore(t, V2)
	kes := kesOn(t, s)
	mat := make([]byte, 32)
	rand.Read(mat)
	if err := kes.ImportKey("imported-key", mat); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := s.Get(ctx, "imported-key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Material, mat) || got.Algorithm != keskey.AES256 {
		t.Fatalf("Get returned other material or algorithm %q", got.Algorithm)
	}
	var names []string
	for n, err := range s.List(ctx, "imported-*") {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if len(names) != 1 || names[0] != "imported-key" {
		t.Fatalf("List = %v", names)
	}
	if err := s.Delete(ctx, "imported-key"); err != nil {
		t.Fatal(err)
	}
	kes.Restart(t) // KES caches keys it has read
	if _, err := kes.DescribeKey("imported-key"); err == nil {
		t.Fatal("KES still has the key cutover deleted")
	}
	if err := kes.ImportKey("imported-key", mat); err != nil {
		t.Fatalf("KES cannot import the name again after Delete: %v", err)
	}
}

// TestKESReadsVersion1Only is the evidence for not offering Replace on KV
// v2: KES keeps using version 1 after a check-and-set write of version 2.
func TestKESReadsVersion1Only(t *testing.T) {
	s := tokenStore(t, V2)
	first := keystoretest.NewKey(t)
	if err := s.Create(context.Background(), "rotated", first); err != nil {
		t.Fatal(err)
	}
	second := writeVersion2(t, s, "rotated")
	kes := kesOn(t, s) // a fresh server: nothing cached
	keskeytest.ProveSameKey(t, kes, "rotated", first)
	ct, err := keskeytest.Seal(second, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keskeytest.Decrypt(kes, "rotated", ct, nil); err == nil {
		t.Fatal("KES decrypted with version 2's material; the vault store could offer Replace")
	}
}

// kesOnV1 starts a KES server whose keystore is the store's KV v1 prefix
// (testenv configures KV v2 only, so the keystore section is rewritten).
func kesOnV1(t *testing.T, s *Store) *testenv.KESServer {
	t.Helper()
	policy := fmt.Sprintf(`path "%[1]s/%[2]s/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "%[1]s/%[2]s" { capabilities = ["list"] }
`, s.cfg.Engine, s.cfg.Prefix)
	id, secret := vaultServer.AppRole(t, "kes-"+s.cfg.Prefix, policy)
	k := testenv.KES(t, testenv.KESOptions{})
	keskeytest.UseKeystore(t, k, fmt.Sprintf(`  vault:
    endpoint: %q
    engine: %q
    version: v1
    prefix: %q
    approle:
      engine: approle
      id: %q
      secret: %q
`, vaultServer.Addr, s.cfg.Engine, s.cfg.Prefix, id, secret))
	return k
}

// TestKESOnKVv1: keys cross both ways between the store and KES on KV v1.
func TestKESOnKVv1(t *testing.T) {
	s := tokenStore(t, V1)
	ctx := context.Background()
	k := keystoretest.NewKey(t)
	if err := s.Create(ctx, "from-cutover", k); err != nil {
		t.Fatal(err)
	}
	kes := kesOnV1(t, s)
	if d, err := kes.DescribeKey("from-cutover"); err != nil || d.CreatedBy != keskey.DefaultCreatedBy {
		t.Fatalf("KES describe: %+v, %v", d, err)
	}
	keskeytest.ProveSameKey(t, kes, "from-cutover", k)
	mat := make([]byte, 32)
	rand.Read(mat)
	if err := kes.ImportKey("from-kes", mat); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "from-kes")
	if err != nil || !bytes.Equal(got.Material, mat) {
		t.Fatalf("Get of KES's key: err %v or other material", err)
	}
}
