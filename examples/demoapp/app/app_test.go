package app

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustKey(t *testing.T) (string, *Signer) {
	t.Helper()
	enc, err := GenerateJWTKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseJWTKeys(enc)
	if err != nil {
		t.Fatal(err)
	}
	return enc, NewSigner(keys)
}

func TestKeyIDIsSHA256OfPKIX(t *testing.T) {
	enc, s := mustKey(t)
	k, _ := ParseJWTKey(enc)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	sum := sha256.Sum256(der)
	if want := hex.EncodeToString(sum[:])[:16]; s.KIDs()[0] != want {
		t.Fatalf("kid %s, want %s", s.KIDs()[0], want)
	}
}

func TestTokenRoundTripAndRotation(t *testing.T) {
	oldEnc, old := mustKey(t)
	newEnc, _ := mustKey(t)
	tok, kid, err := old.Sign("alice")
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]string
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr["alg"] != "ES256" || hdr["kid"] != kid || hdr["typ"] != "JWT" {
		t.Fatalf("header %s (%v)", raw, err)
	}
	keys, err := ParseJWTKeys(newEnc + " , " + oldEnc)
	if err != nil {
		t.Fatal(err)
	}
	rotated := NewSigner(keys)
	gotKid, claims, err := rotated.Verify(tok)
	if err != nil || gotKid != kid || claims.Subject != "alice" {
		t.Fatalf("verify after rotation: kid %q claims %+v err %v", gotKid, claims, err)
	}
	tok2, kid2, _ := rotated.Sign("bob")
	if kid2 != rotated.KIDs()[0] || kid2 == kid {
		t.Fatalf("new token kid %s", kid2)
	}
	if _, _, err := old.Verify(tok2); !errors.Is(err, ErrToken) {
		t.Fatalf("old list verified a token of the new key: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	_, s := mustKey(t)
	tok, _, _ := s.Sign("x")
	parts := strings.Split(tok, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"x"}`))
	sig := []byte(parts[2])
	sig[5] ^= 1
	for name, bad := range map[string]string{
		"alg none":        none + "." + parts[1] + "." + parts[2],
		"flipped sig":     parts[0] + "." + parts[1] + "." + string(sig),
		"two parts":       parts[0] + "." + parts[1],
		"short signature": parts[0] + "." + parts[1] + ".AAAA",
		"garbage":         "a.b.c",
	} {
		if _, _, err := s.Verify(bad); !errors.Is(err, ErrToken) {
			t.Errorf("%s: verified (%v)", name, err)
		}
	}
	s.now = func() time.Time { return time.Now().Add(-2 * TokenTTL) }
	expired, _, _ := s.Sign("x")
	s.now = time.Now
	if _, _, err := s.Verify(expired); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
}

func TestConfigAcceptsProviderCase(t *testing.T) {
	enc, _ := mustKey(t)
	env := map[string]string{"DATA_DIR": "/d", "KMS_PROVIDER": "aws", "JWT_ECDSA_KEY": enc, "AWS_KMS_KEY_ARN": "arn",
		"AWS_REGION": "r", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil || c.Provider != ProviderAWS || c.ListenAddr != "127.0.0.1:8080" || c.JobDuration != DefaultJobDuration {
		t.Fatalf("config %+v, %v", c, err)
	}
	env["AWS_ENDPOINT_URL"] = "127.0.0.1:4566"
	if _, err := LoadConfig(func(k string) string { return env[k] }); err == nil || !errors.Is(err, ErrConfig) {
		t.Fatalf("endpoint without scheme: %v", err)
	}
}
