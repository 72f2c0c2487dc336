// Package keskeytest helps tests prove that a KES server uses exactly a
// given key: it calls KES's encrypt and decrypt APIs and implements, on the
// test side, the ciphertext format KES v0.24.0 produces for a key
// (internal/crypto SecretKey.Encrypt), so a ciphertext made by KES can be
// opened with the material a store holds, and the other way round.
package keskeytest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/providers"
)

// KES's ciphertext is sealed || iv (16 bytes) || nonce (12 bytes).
const (
	ivSize    = 16
	nonceSize = 12
)

// ProveSameKey fails t unless the KES server k uses key as the key name:
// a ciphertext KES makes opens with key's material, and one sealed with
// key's material opens through KES.
func ProveSameKey(t testing.TB, k *testenv.KESServer, name string, key providers.Key) {
	t.Helper()
	plaintext, context := random(t, 48), []byte("cutover-interop")
	ct, err := Encrypt(k, name, plaintext, context)
	if err != nil {
		t.Fatalf("kes encrypt with %s: %v", name, err)
	}
	got, err := Open(key, ct, context)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("a ciphertext KES made with %s does not open with the store's material (err %v)", name, err)
	}
	ct, err = Seal(key, plaintext, context)
	if err != nil {
		t.Fatal(err)
	}
	got, err = Decrypt(k, name, ct, context)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("KES cannot decrypt with %s what the store's material sealed (err %v)", name, err)
	}
}

// Encrypt calls POST /v1/key/encrypt/<name>.
func Encrypt(k *testenv.KESServer, name string, plaintext, context []byte) ([]byte, error) {
	var out struct {
		Ciphertext []byte `json:"ciphertext"`
	}
	in := map[string][]byte{"plaintext": plaintext, "context": context}
	err := call(k, "/v1/key/encrypt/"+url.PathEscape(name), in, &out)
	return out.Ciphertext, err
}

// Decrypt calls POST /v1/key/decrypt/<name>.
func Decrypt(k *testenv.KESServer, name string, ciphertext, context []byte) ([]byte, error) {
	var out struct {
		Plaintext []byte `json:"plaintext"`
	}
	in := map[string][]byte{"ciphertext": ciphertext, "context": context}
	err := call(k, "/v1/key/decrypt/"+url.PathEscape(name), in, &out)
	return out.Plaintext, err
}

// call POSTs in as JSON and decodes the answer into out.
func call(k *testenv.KESServer, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := k.HTTPClient().Post(k.Endpoint+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("kes %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, out)
}

// Seal encrypts plaintext the way KES does with key.
func Seal(key providers.Key, plaintext, context []byte) ([]byte, error) {
	r := make([]byte, ivSize+nonceSize)
	if _, err := rand.Read(r); err != nil {
		return nil, err
	}
	aead, err := newAEAD(key, r[:ivSize])
	if err != nil {
		return nil, err
	}
	return append(aead.Seal(nil, r[ivSize:], plaintext, context), r...), nil
}

// Open decrypts a ciphertext KES made with key.
func Open(key providers.Key, ciphertext, context []byte) ([]byte, error) {
	if len(ciphertext) < ivSize+nonceSize {
		return nil, errors.New("ciphertext too short")
	}
	n := len(ciphertext) - ivSize - nonceSize
	iv, nonce := ciphertext[n:n+ivSize], ciphertext[n+ivSize:]
	aead, err := newAEAD(key, iv)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, nonce, ciphertext[:n], context)
}

// newAEAD derives the per-message AEAD: AES-256-GCM under
// HMAC-SHA256(key, iv), or ChaCha20-Poly1305 under HChaCha20(key, iv).
func newAEAD(key providers.Key, iv []byte) (cipher.AEAD, error) {
	switch key.Algorithm {
	case "", "AES256":
		prf := hmac.New(sha256.New, key.Material)
		prf.Write(iv)
		block, err := aes.NewCipher(prf.Sum(nil))
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	case "ChaCha20":
		k, err := chacha20.HChaCha20(key.Material, iv)
		if err != nil {
			return nil, err
		}
		return chacha20poly1305.New(k)
	}
	return nil, fmt.Errorf("unsupported algorithm %q", key.Algorithm)
}

// random returns n random bytes.
func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// UseKeystore stops k, replaces the keystore section of its config with
// keystoreYAML (indented as under "keystore:", e.g. "  aws:\n    ..."), and
// starts it again: a KES server on any keystore, with testenv's TLS and
// admin identity. It relies on testenv writing the keystore section last.
func UseKeystore(t testing.TB, k *testenv.KESServer, keystoreYAML string) {
	t.Helper()
	b, err := os.ReadFile(k.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("\nkeystore:\n"))
	if i < 0 {
		t.Fatalf("%s has no keystore section", k.ConfigFile)
	}
	cfg := append(b[:i+len("\nkeystore:\n")], keystoreYAML...)
	k.Stop()
	if err := os.WriteFile(k.ConfigFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	k.Restart(t)
}
