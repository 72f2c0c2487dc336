// Package keskeytest helps tests prove that a KES server uses exactly a
// given key: it calls KES's encrypt and decrypt APIs directly and, with
// keskey.Seal and keskey.Open (KES v0.24.0's ciphertext format), checks
// that a ciphertext made by KES opens with the material a store holds, and
// the other way round. It also reconfigures test KES servers.
package keskeytest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
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

// Generate calls POST /v1/key/generate/<name>: a new data key and its
// ciphertext under the key name.
func Generate(k *testenv.KESServer, name string, context []byte) (plaintext, ciphertext []byte, err error) {
	var out struct {
		Plaintext  []byte `json:"plaintext"`
		Ciphertext []byte `json:"ciphertext"`
	}
	err = call(k, "/v1/key/generate/"+url.PathEscape(name), map[string][]byte{"context": context}, &out)
	return out.Plaintext, out.Ciphertext, err
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

// Seal is keskey.Seal: plaintext sealed with key's material as KES
// v0.24.0 seals it, for KES's decrypt API to open.
func Seal(key providers.Key, plaintext, context []byte) ([]byte, error) {
	return keskey.Seal(key, plaintext, context)
}

// Open is keskey.Open: a ciphertext KES made, opened with key's material.
func Open(key providers.Key, ciphertext, context []byte) ([]byte, error) {
	return keskey.Open(key, ciphertext, context)
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

// MinIOPolicy is the policy the MinIO KMS guide gives MinIO's identity on
// KES: it may create keys, generate data keys and decrypt them, list keys
// and read the status — but not encrypt, describe, import or delete.
var MinIOPolicy = []string{
	"/v1/key/create/*",
	"/v1/key/generate/*",
	"/v1/key/decrypt/*",
	"/v1/key/bulk/decrypt",
	"/v1/key/list/*",
	"/v1/status",
	"/v1/metrics",
	"/v1/log/audit",
	"/v1/log/error",
}

// WithPolicy adds to k's config a policy allowing exactly the API paths
// allow (KES's glob patterns), assigned to a new identity, restarts k and
// returns that identity's API key. It can be called once per server, and
// relies on testenv writing the keystore section last.
func WithPolicy(t testing.TB, k *testenv.KESServer, allow []string) string {
	t.Helper()
	key, err := kesauth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(k.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\npolicy:\n")) {
		t.Fatalf("%s has a policy section already", k.ConfigFile)
	}
	i := bytes.Index(b, []byte("\nkeystore:\n"))
	if i < 0 {
		t.Fatalf("%s has no keystore section", k.ConfigFile)
	}
	var p bytes.Buffer
	p.WriteString("\npolicy:\n  cutover-test:\n    allow:\n")
	for _, a := range allow {
		fmt.Fprintf(&p, "    - %s\n", a)
	}
	fmt.Fprintf(&p, "    identities:\n    - %s", key.Identity())
	cfg := append(append(append([]byte(nil), b[:i]...), p.Bytes()...), b[i:]...)
	k.Stop()
	if err := os.WriteFile(k.ConfigFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	k.Restart(t)
	return key.Text()
}
