package keskey

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/cutover/cutover/providers"
)

// Ciphertexts the real KES v0.24.0 (bin/kes, fs keystore) returned from
// PUT /v1/key/encrypt/<name> for the plaintext "cutover keskey fixture"
// with the context "fixture-context", the key being 00 01 02 ... 1f
// imported with each cipher.
var kesFixtures = map[string]string{
	AES256:   "ESJ+yOH2FJk1Nf9nPhSnmPdfmQLlfyAg7GB34DBPQUutxrOo8XFDrRWbkJKum39G6d5qIC3YNapS3QMBHBFcjL2Q",
	ChaCha20: "RZzMRFLn/Qe/VoRAHSP/3FFS/sDeTfXGzVAe0UUbP9cN0iHmzx35Qg0MfGHFEtZIJoDf9RX+6fyRdaznI0hjztQV",
}

const (
	fixturePlaintext = "cutover keskey fixture"
	fixtureContext   = "fixture-context"
)

func TestOpenKESFixtures(t *testing.T) {
	for alg, b64ct := range kesFixtures {
		ct, err := base64.StdEncoding.DecodeString(b64ct)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != len(fixturePlaintext)+Overhead {
			t.Errorf("%s: fixture is %d bytes, want plaintext + Overhead = %d", alg, len(ct), len(fixturePlaintext)+Overhead)
		}
		key := providers.Key{Material: seq32(), Algorithm: alg}
		got, err := Open(key, ct, []byte(fixtureContext))
		if err != nil || string(got) != fixturePlaintext {
			t.Fatalf("Open(%s fixture) = %q, %v", alg, got, err)
		}
		if _, err := Open(key, ct, []byte("other-context")); !errors.Is(err, ErrNotAuthentic) {
			t.Errorf("%s fixture with another context: %v, want ErrNotAuthentic", alg, err)
		}
		other := AES256
		if alg == AES256 {
			other = ChaCha20
		}
		if _, err := Open(providers.Key{Material: seq32(), Algorithm: other}, ct, []byte(fixtureContext)); !errors.Is(err, ErrNotAuthentic) {
			t.Errorf("%s fixture opened as %s: %v, want ErrNotAuthentic", alg, other, err)
		}
	}
	// "" is AES256, as in KES's legacy values.
	ct, _ := base64.StdEncoding.DecodeString(kesFixtures[AES256])
	if got, err := Open(providers.Key{Material: seq32()}, ct, []byte(fixtureContext)); err != nil || string(got) != fixturePlaintext {
		t.Fatalf("Open with algorithm \"\" = %q, %v", got, err)
	}
}

func TestSealOpen(t *testing.T) {
	for _, alg := range []string{"", AES256, ChaCha20, "AES256-GCM_SHA256", "XCHACHA20-POLY1305"} {
		key := providers.Key{Material: randomKey(t), Algorithm: alg}
		for _, plaintext := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("p"), 1000)} {
			aad := []byte("context")
			ct, err := Seal(key, plaintext, aad)
			if err != nil {
				t.Fatalf("Seal(%q): %v", alg, err)
			}
			if len(ct) != len(plaintext)+Overhead {
				t.Errorf("Seal(%q) of %d bytes = %d bytes, want %d", alg, len(plaintext), len(ct), len(plaintext)+Overhead)
			}
			got, err := Open(key, ct, aad)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("Open(Seal(%q)) = %v", alg, err)
			}
			again, _ := Seal(key, plaintext, aad)
			if bytes.Equal(again, ct) {
				t.Fatalf("two Seals of one plaintext are equal: iv and nonce are not random")
			}
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	key := providers.Key{Material: randomKey(t), Algorithm: AES256}
	ct, err := Seal(key, []byte("secret plaintext"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tampered := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 1
		return c
	}
	cases := map[string]struct {
		key providers.Key
		ct  []byte
		aad []byte
	}{
		"other material":  {providers.Key{Material: randomKey(t)}, ct, nil},
		"other algorithm": {providers.Key{Material: key.Material, Algorithm: ChaCha20}, ct, nil},
		"other context":   {key, ct, []byte("c")},
		"sealed byte":     {key, tampered(0), nil},
		"iv byte":         {key, tampered(len(ct) - 20), nil},
		"nonce byte":      {key, tampered(len(ct) - 1), nil},
		"short":           {key, ct[:Overhead-1], nil},
		"empty":           {key, nil, nil},
		"truncated":       {key, ct[1:], nil},
	}
	for name, c := range cases {
		got, err := Open(c.key, c.ct, c.aad)
		if !errors.Is(err, ErrNotAuthentic) || got != nil {
			t.Errorf("%s: Open = %v, want ErrNotAuthentic", name, err)
		}
	}
}

func TestSealRefusesInvalidKeys(t *testing.T) {
	material := randomKey(t)
	for name, k := range map[string]providers.Key{
		"16 bytes": {Material: material[:16]},
		"no bytes": {},
		"RSA":      {Material: material, Algorithm: "RSA"},
	} {
		if _, err := Seal(k, []byte("p"), nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Seal with %s: %v, want ErrInvalid", name, err)
		}
		if _, err := Open(k, make([]byte, 64), nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open with %s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestCiphertextErrorsHoldNoSecrets checks no error names material,
// plaintext or ciphertext, in any encoding.
func TestCiphertextErrorsHoldNoSecrets(t *testing.T) {
	material := randomKey(t)
	plaintext := []byte("plaintext-marker-0123456789")
	key := providers.Key{Material: material}
	ct, err := Seal(key, plaintext, nil)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err = Open(providers.Key{Material: randomKey(t)}, ct, nil)
	errs = append(errs, err)
	_, err = Open(key, ct[:10], nil)
	errs = append(errs, err)
	_, err = Seal(providers.Key{Material: material[:31]}, plaintext, nil)
	errs = append(errs, err)
	_, err = Open(providers.Key{Material: material, Algorithm: "bogus"}, ct, nil)
	errs = append(errs, err)
	_, err = seal(failingReader{}, key, plaintext, nil)
	errs = append(errs, err)
	for _, e := range errs {
		if e == nil {
			t.Fatal("an invalid call succeeded")
		}
		msg := e.Error()
		for _, secret := range [][]byte{material, material[:31], plaintext, ct} {
			for _, enc := range []string{string(secret), base64.StdEncoding.EncodeToString(secret), hex.EncodeToString(secret)} {
				if strings.Contains(msg, enc) {
					t.Errorf("error %q contains a secret", msg)
				}
			}
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }
