package keskey_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/keskeytest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

func material(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeWhatKESWrites imports a key through the real KES's API, reads
// the file its fs keystore wrote and decodes it; re-encoding the parsed
// value gives the file byte for byte.
func TestDecodeWhatKESWrites(t *testing.T) {
	k := testenv.KES(t, testenv.KESOptions{})
	mat := material(t)
	before := time.Now()
	if err := k.ImportKey("imported", mat); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(k.KeystoreDir, "imported"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := keskey.Parse(file)
	if err != nil {
		t.Fatalf("Parse(KES's file): %v", err)
	}
	if !bytes.Equal(v.Key.Material, mat) || v.Key.Algorithm != keskey.AES256 || v.Legacy {
		t.Fatalf("decoded algorithm %q legacy %v; material equal: %v", v.Key.Algorithm, v.Legacy, bytes.Equal(v.Key.Material, mat))
	}
	d, err := k.DescribeKey("imported")
	if err != nil {
		t.Fatal(err)
	}
	if v.CreatedBy != k.Identity || !v.CreatedAt.Equal(d.CreatedAt) || v.CreatedAt.Before(before.Add(-time.Second)) {
		t.Errorf("decoded created %v by %s; KES describes %v by %s", v.CreatedAt, v.CreatedBy, d.CreatedAt, d.CreatedBy)
	}
	again, err := keskey.EncodeValue(v)
	if err != nil || !bytes.Equal(again, file) {
		t.Fatalf("re-encoding differs from KES's file (err %v):\n got %s\nwant %s", err, again, file)
	}
}

// TestKESUsesEncodedValues writes values with Encode (both algorithms) and
// EncodeLegacy into an fs keystore before KES starts, then checks KES
// describes them and encrypts and decrypts with exactly that material.
func TestKESUsesEncodedValues(t *testing.T) {
	dir := t.TempDir()
	keys := map[string]providers.Key{
		"aes-key":    {Material: material(t), Algorithm: keskey.AES256},
		"chacha-key": {Material: material(t), Algorithm: keskey.ChaCha20},
		"legacy-key": {Material: material(t)},
	}
	created := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	for name, key := range keys {
		b, err := keskey.Encode(key, "cutover-test", created)
		if name == "legacy-key" {
			b, err = keskey.EncodeLegacy(keskey.Value{Key: key, CreatedAt: created, CreatedBy: "cutover-test"})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k := testenv.KES(t, testenv.KESOptions{KeystoreDir: dir})
	for name, key := range keys {
		d, err := k.DescribeKey(name)
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		want := key.Algorithm
		if want == "" {
			want = keskey.AES256
		}
		if d.Algorithm != want || d.CreatedBy != "cutover-test" || !d.CreatedAt.Equal(created) {
			t.Errorf("describe %s = %+v, want %s created %v by cutover-test", name, d, want, created)
		}
		keskeytest.ProveSameKey(t, k, name, key)
	}
}
