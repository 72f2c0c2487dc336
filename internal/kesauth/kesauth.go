// Package kesauth turns a KES API key ("kes:v1:...") into what a KES server
// authenticates: an identity and a TLS client certificate.
//
// A KES API key is an Ed25519 private key written as
// "kes:v1:" + base64(0x00 || 32-byte seed) (0x00 is the key type, Ed25519).
// A KES server identifies a client by the lowercase hex SHA-256 of the DER
// SubjectPublicKeyInfo of the certificate it presents; a client holding an
// API key proves its identity with a self-signed certificate for that key,
// which is what the KES SDK (kms-go/kes GenerateCertificate), `kes` and
// MinIO's MINIO_KMS_KES_API_KEY do, and what Certificate does here.
//
// An APIKey is a secret: its String method prints only the identity, and
// errors never contain any part of the key text.
package kesauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Prefix starts every KES API key of the only version there is.
const Prefix = "kes:v1:"

// ed25519Type is the key-type byte of an Ed25519 API key.
const ed25519Type = 0

// certLifetime is how long a generated client certificate is valid; the
// KES SDK uses 90 days.
const certLifetime = 90 * 24 * time.Hour

// ErrInvalid is wrapped by every Parse error. The messages say what is
// wrong with the key, never what it contains.
var ErrInvalid = errors.New("invalid KES API key")

// APIKey is a parsed KES API key. The zero value is not usable; get one
// from Parse or Generate.
type APIKey struct {
	key      ed25519.PrivateKey
	identity string
}

// Parse parses "kes:v1:<base64>". It fails, wrapping ErrInvalid, when the
// prefix is missing, the base64 is malformed, or the key is not a 32-byte
// Ed25519 seed with type byte 0.
func Parse(s string) (*APIKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), Prefix)
	if !ok {
		return nil, fmt.Errorf("%w: it must start with %q", ErrInvalid, Prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not standard base64", ErrInvalid, Prefix)
	}
	if len(raw) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("%w: it holds %d bytes, want %d", ErrInvalid, len(raw), 1+ed25519.SeedSize)
	}
	if raw[0] != ed25519Type {
		return nil, fmt.Errorf("%w: unsupported key type %d (only Ed25519, type 0)", ErrInvalid, raw[0])
	}
	return fromSeed(raw[1:])
}

// Generate returns a new random API key.
func Generate() (*APIKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return fromSeed(seed)
}

// fromSeed derives the key pair and the identity from a seed.
func fromSeed(seed []byte) (*APIKey, error) {
	key := ed25519.NewKeyFromSeed(seed)
	id, err := Identity(key.Public())
	if err != nil {
		return nil, err
	}
	return &APIKey{key: key, identity: id}, nil
}

// Identity returns the KES identity of a public key: the hex SHA-256 of its
// DER SubjectPublicKeyInfo.
func Identity(pub any) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:]), nil
}

// Identity returns the key's KES identity (64 hex digits); it is public.
func (k *APIKey) Identity() string { return k.identity }

// Text returns the secret "kes:v1:..." form of the key, for writing it
// where a KES client reads it (MINIO_KMS_KES_API_KEY). Never log it.
func (k *APIKey) Text() string {
	raw := append([]byte{ed25519Type}, k.key.Seed()...)
	return Prefix + base64.StdEncoding.EncodeToString(raw)
}

// String describes the key by its identity only, so that printing an
// APIKey by mistake reveals nothing secret.
func (k *APIKey) String() string { return "KES API key of identity " + k.identity }

// Certificate returns a self-signed TLS client certificate for the key,
// valid from now for 90 days, whose common name is the identity.
func (k *APIKey) Certificate() (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: k.identity},
		NotBefore:             now.Add(-5 * time.Minute), // tolerate a server clock slightly behind
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.key.Public(), k.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k.key, Leaf: leaf}, nil
}
