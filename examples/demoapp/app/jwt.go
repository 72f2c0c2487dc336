package app

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// TokenTTL is how long a token from Signer.Sign is valid.
const TokenTTL = time.Hour

// ParseJWTKeys parses JWT_ECDSA_KEY: a comma-separated list of ECDSA P-256
// private keys, each the standard base64 of its PKCS#8 DER, new first.
// Errors name the position of a bad key, never its content.
func ParseJWTKeys(list string) ([]*ecdsa.PrivateKey, error) {
	if strings.TrimSpace(list) == "" {
		return nil, configErr("JWT_ECDSA_KEY is not set: it lists the token signing keys (base64 PKCS#8 P-256, new first, comma-separated)")
	}
	parts := strings.Split(list, ",")
	keys := make([]*ecdsa.PrivateKey, 0, len(parts))
	for i, p := range parts {
		k, err := ParseJWTKey(p)
		if err != nil {
			return nil, configErr("JWT_ECDSA_KEY: key %d of %d %v", i+1, len(parts), err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ParseJWTKey parses one base64 PKCS#8 P-256 private key. The error says
// what is wrong without quoting the input.
func ParseJWTKey(s string) (*ecdsa.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("is empty")
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("is not valid standard base64")
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("is not a PKCS#8 private key")
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("is not an ECDSA P-256 key")
	}
	return ek, nil
}

// GenerateJWTKey returns a new P-256 key in JWT_ECDSA_KEY's encoding.
func GenerateJWTKey() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// KeyID is a key's kid: the first 16 hex digits of the SHA-256 of its
// public key's PKIX DER.
func KeyID(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("demoapp: marshal P-256 public key: " + err.Error())
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:16]
}

// Signer signs tokens with the first key of a list and verifies tokens
// signed by any key of it.
type Signer struct {
	keys []*ecdsa.PrivateKey
	kids []string
	now  func() time.Time
}

// NewSigner returns a Signer for keys (new first; at least one).
func NewSigner(keys []*ecdsa.PrivateKey) *Signer {
	s := &Signer{keys: keys, now: time.Now}
	for _, k := range keys {
		s.kids = append(s.kids, KeyID(&k.PublicKey))
	}
	return s
}

// KIDs returns the key ids, new first.
func (s *Signer) KIDs() []string { return append([]string(nil), s.kids...) }

// Claims are the claims of demoapp's tokens.
type Claims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	ID       string `json:"jti"`
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid"`
}

var b64 = base64.RawURLEncoding

// Sign returns a compact ES256 JWT for subject, signed with the first key,
// and that key's kid.
func (s *Signer) Sign(subject string) (token, kid string, err error) {
	now := s.now()
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	h, _ := json.Marshal(header{Alg: "ES256", Typ: "JWT", Kid: s.kids[0]})
	c, _ := json.Marshal(Claims{Issuer: "demoapp", Subject: subject, IssuedAt: now.Unix(),
		Expires: now.Add(TokenTTL).Unix(), ID: hex.EncodeToString(jti)})
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	r, sg, err := ecdsa.Sign(rand.Reader, s.keys[0], digest[:])
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sg.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), s.kids[0], nil
}

// ErrToken is the error of every token that does not verify.
var ErrToken = errors.New("invalid token")

// Verify checks token's ES256 signature against every key of the list and
// its expiry; it returns the kid of the key that signed it and its claims.
func (s *Signer) Verify(token string) (string, *Claims, error) {
	hdr, claims, input, sig, err := splitToken(token)
	if err != nil {
		return "", nil, err
	}
	if hdr.Alg != "ES256" {
		return "", nil, fmt.Errorf("%w: alg %q, want ES256", ErrToken, hdr.Alg)
	}
	digest := sha256.Sum256([]byte(input))
	r, sg := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	for i, k := range s.keys {
		if !ecdsa.Verify(&k.PublicKey, digest[:], r, sg) {
			continue
		}
		if s.now().Unix() >= claims.Expires {
			return "", nil, fmt.Errorf("%w: expired at %s", ErrToken, time.Unix(claims.Expires, 0).UTC().Format(time.RFC3339))
		}
		return s.kids[i], claims, nil
	}
	return "", nil, fmt.Errorf("%w: not signed by any key of JWT_ECDSA_KEY (kid %q)", ErrToken, hdr.Kid)
}

// TokenKID returns the kid in a token's header, without verifying it.
func TokenKID(token string) (string, error) {
	hdr, _, _, _, err := splitToken(token)
	if err != nil {
		return "", err
	}
	return hdr.Kid, nil
}

// splitToken decodes a compact JWS's parts.
func splitToken(token string) (*header, *Claims, string, []byte, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return nil, nil, "", nil, fmt.Errorf("%w: not a compact JWT (want 3 parts, got %d)", ErrToken, len(parts))
	}
	var hdr header
	var claims Claims
	if err := decodePart(parts[0], &hdr); err != nil {
		return nil, nil, "", nil, fmt.Errorf("%w: header: %v", ErrToken, err)
	}
	if err := decodePart(parts[1], &claims); err != nil {
		return nil, nil, "", nil, fmt.Errorf("%w: claims: %v", ErrToken, err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, nil, "", nil, fmt.Errorf("%w: signature is not 64 base64url bytes", ErrToken)
	}
	return &hdr, &claims, parts[0] + "." + parts[1], sig, nil
}

func decodePart(part string, v any) error {
	raw, err := b64.DecodeString(part)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}
