package kes_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/internal/testing/keskeytest"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/providers/keskey"
)

// TestSameKey checks SameKey against the real KES: true for the key
// imported, false for any other material or algorithm under the name, and
// ErrKeyNotFound for an absent key.
func TestSameKey(t *testing.T) {
	s, srv := open(t)
	ctx := context.Background()
	for _, alg := range []string{"", keskey.AES256, keskey.ChaCha20} {
		key := keystoretest.NewKey(t)
		key.Algorithm = alg
		name := "same-" + strings.ToLower(alg)
		if alg == "" {
			name = "same-default"
		}
		if err := s.Create(ctx, name, key); err != nil {
			t.Fatal(err)
		}
		if same, err := s.SameKey(ctx, name, key); err != nil || !same {
			t.Errorf("%s: SameKey(the imported key) = %v, %v; want true", name, same, err)
		}
		other := keystoretest.NewKey(t)
		other.Algorithm = alg
		if same, err := s.SameKey(ctx, name, other); err != nil || same {
			t.Errorf("%s: SameKey(other material) = %v, %v; want false, nil", name, same, err)
		}
		flipped := providers.Key{Material: key.Material, Algorithm: keskey.ChaCha20}
		if alg == keskey.ChaCha20 {
			flipped.Algorithm = keskey.AES256
		}
		if same, err := s.SameKey(ctx, name, flipped); err != nil || same {
			t.Errorf("%s: SameKey(same material, algorithm %s) = %v, %v; want false, nil", name, flipped.Algorithm, same, err)
		}
	}

	// A different key under the name, put there outside cutover.
	key, wrong := keystoretest.NewKey(t), keystoretest.NewKey(t)
	if err := srv.ImportKey("minio-key", wrong.Material); err != nil {
		t.Fatal(err)
	}
	if same, err := s.SameKey(ctx, "minio-key", key); err != nil || same {
		t.Errorf("SameKey with a DIFFERENT key in KES = %v, %v; want false, nil", same, err)
	}
	if same, err := s.SameKey(ctx, "minio-key", wrong); err != nil || !same {
		t.Errorf("SameKey(KES's key) = %v, %v; want true", same, err)
	}

	for _, name := range []string{"absent", "-invalid-"} {
		if same, err := s.SameKey(ctx, name, key); !errors.Is(err, providers.ErrKeyNotFound) || same {
			t.Errorf("SameKey(%q) = %v, %v; want ErrKeyNotFound", name, same, err)
		}
	}
	if _, err := s.SameKey(ctx, "minio-key", providers.Key{Material: key.Material[:16]}); err == nil {
		t.Error("SameKey with a 16-byte key succeeded")
	}
	if _, err := s.SameKey(ctx, "minio-key", providers.Key{Material: key.Material, Algorithm: "RSA"}); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("SameKey with an RSA key: %v, want ErrUnsupported", err)
	}
}

// TestUndecryptableStatus pins KES v0.24.0's answer to a ciphertext its
// key cannot open, which SameKey takes for "a different key": 400 with
// "decryption failed: ciphertext is not authentic".
func TestUndecryptableStatus(t *testing.T) {
	s, srv := open(t)
	key := keystoretest.NewKey(t)
	if err := s.Create(context.Background(), "k", key); err != nil {
		t.Fatal(err)
	}
	ct, err := keskey.Seal(keystoretest.NewKey(t), []byte("plaintext"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = keskeytest.Decrypt(srv, "k", ct, []byte("ctx"))
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "decryption failed: ciphertext is not authentic") {
		t.Fatalf("KES decrypt of another key's ciphertext: %v, want 400 \"decryption failed: ciphertext is not authentic\"", err)
	}
	// The same ciphertext sealed with the right key opens.
	ct, _ = keskey.Seal(key, []byte("plaintext"), []byte("ctx"))
	if got, err := keskeytest.Decrypt(srv, "k", ct, []byte("ctx")); err != nil || string(got) != "plaintext" {
		t.Fatalf("KES decrypt of the key's own ciphertext = %q, %v", got, err)
	}
}

// TestMinIOPolicy runs Prove and SameKey as an identity with the policy
// MinIO runs with on KES (generate and decrypt, no encrypt or describe).
func TestMinIOPolicy(t *testing.T) {
	admin, srv := open(t)
	ctx := context.Background()
	key := keystoretest.NewKey(t)
	if err := admin.Create(ctx, "minio-key", key); err != nil {
		t.Fatal(err)
	}
	apiKey := keskeytest.WithPolicy(t, srv, keskeytest.MinIOPolicy)
	s, err := kes.New(kes.Config{Name: "kms.kes", Endpoint: srv.Endpoint, APIKey: apiKey, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if status := rawPut(t, srv, apiKey, "/v1/key/encrypt/minio-key", `{"plaintext":"AAAA"}`); status != http.StatusForbidden {
		t.Fatalf("encrypt as MinIO's identity answered %d, want 403: the policy is not MinIO's", status)
	}
	if _, err := s.Describe(ctx, "minio-key"); !errors.Is(err, kes.ErrNotAllowed) {
		t.Fatalf("describe as MinIO's identity: %v, want ErrNotAllowed", err)
	}
	if err := s.Prove(ctx, "minio-key"); err != nil {
		t.Errorf("Prove with MinIO's policy: %v", err)
	}
	if err := s.Prove(ctx, "absent"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Prove(absent) with MinIO's policy: %v, want ErrKeyNotFound", err)
	}
	if same, err := s.SameKey(ctx, "minio-key", key); err != nil || !same {
		t.Errorf("SameKey with MinIO's policy = %v, %v; want true", same, err)
	}
	if same, err := s.SameKey(ctx, "minio-key", keystoretest.NewKey(t)); err != nil || same {
		t.Errorf("SameKey(other key) with MinIO's policy = %v, %v; want false", same, err)
	}
	if _, err := s.SameKey(ctx, "absent", key); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("SameKey(absent) with MinIO's policy: %v, want ErrKeyNotFound", err)
	}
	// The admin store proves the same key with the same operations.
	if err := admin.Prove(ctx, "minio-key"); err != nil {
		t.Errorf("Prove as admin: %v", err)
	}
}

// TestProveDataKeyDecrypts checks what Prove relies on: KES's generate
// returns a 32-byte data key and its ciphertext in KES's format, sealed
// under the key with the context given (it opens with the key's material),
// which the decrypt API opens again.
func TestProveDataKeyDecrypts(t *testing.T) {
	s, srv := open(t)
	for _, alg := range []string{keskey.AES256, keskey.ChaCha20} {
		key := keystoretest.NewKey(t)
		key.Algorithm = alg
		name := "dek-" + strings.ToLower(alg)
		if err := s.Create(context.Background(), name, key); err != nil {
			t.Fatal(err)
		}
		if err := s.Prove(context.Background(), name); err != nil {
			t.Fatalf("Prove(%s): %v", name, err)
		}
		aad := []byte("prove-context")
		plaintext, ciphertext, err := keskeytest.Generate(srv, name, aad)
		if err != nil || len(plaintext) != keskey.KeySize {
			t.Fatalf("generate %s: %d-byte data key, %v", name, len(plaintext), err)
		}
		got, err := keskey.Open(key, ciphertext, aad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("%s: the data key's ciphertext does not open with the imported material (%v)", name, err)
		}
		got, err = keskeytest.Decrypt(srv, name, ciphertext, aad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("%s: KES does not decrypt its data key (%v)", name, err)
		}
		if _, err := keskeytest.Decrypt(srv, name, ciphertext, []byte("other")); err == nil {
			t.Fatalf("%s: KES decrypted the data key under another context", name)
		}
	}
}

// rawPut sends a PUT as the identity of apiKey and returns the status.
func rawPut(t *testing.T, srv *testenv.KESServer, apiKey, path, body string) int {
	t.Helper()
	k, err := kesauth.Parse(apiKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := k.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	req, err := http.NewRequest(http.MethodPut, srv.Endpoint+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
