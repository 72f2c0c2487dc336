package awssm

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

// kesOn starts a real KES v0.24.0 whose keystore is the emulator's
// Secrets Manager (KES uses aws-sdk-go v1, so this also checks the
// emulator and KES agree on the wire).
func kesOn(t *testing.T, e *env) *testenv.KESServer {
	t.Helper()
	k := testenv.KES(t, testenv.KESOptions{})
	keskeytest.UseKeystore(t, k, fmt.Sprintf(`  aws:
    secretsmanager:
      endpoint: %q
      region: %q
      credentials:
        accesskey: %q
        secretkey: %q
`, e.url, testRegion, testAccessKey, testSecretKey))
	return k
}

// TestKESUsesKeysCutoverCreated: KES on the same account and region
// describes and uses the key the store created, and uses a replaced value
// after a restart.
func TestKESUsesKeysCutoverCreated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := keystoretest.NewKey(t)
	if err := e.store.Create(ctx, "minio-key", k); err != nil {
		t.Fatal(err)
	}
	kes := kesOn(t, e)
	d, err := kes.DescribeKey("minio-key")
	if err != nil {
		t.Fatal(err)
	}
	if d.Algorithm != keskey.AES256 || d.CreatedBy != keskey.DefaultCreatedBy {
		t.Errorf("KES describes the key as %+v", d)
	}
	keskeytest.ProveSameKey(t, kes, "minio-key", k)

	next := keystoretest.NewKey(t)
	if err := e.store.Replace(ctx, "minio-key", next); err != nil {
		t.Fatal(err)
	}
	kes.Restart(t) // KES caches keys it has read
	keskeytest.ProveSameKey(t, kes, "minio-key", next)
}

// TestReadsKeysKESImported: a key imported through KES is read by the
// store with the same material.
func TestReadsKeysKESImported(t *testing.T) {
	e := newEnv(t)
	kes := kesOn(t, e)
	mat := make([]byte, 32)
	rand.Read(mat)
	if err := kes.ImportKey("imported-key", mat); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Get(context.Background(), "imported-key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Material, mat) {
		t.Fatal("Get returned other material than KES imported")
	}
	if n := count(t, e.store, "imported-*"); n != 1 {
		t.Fatalf("List(imported-*) = %d names", n)
	}
}
