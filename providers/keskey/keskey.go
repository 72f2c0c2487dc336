// Package keskey is the codec for the value under which KES v0.24.0 keeps
// one key in its keystore: the content of a file of the fs keystore, the
// string in a Vault KV entry {"<name>": "<value>"}, the SecretString of an
// AWS Secrets Manager secret. cutover's fs, vault and aws_secretsmanager
// stores write values a KES server can use and read the values KES wrote.
//
// # The format
//
// KES v0.24.0 (kes.go keyCache.Create -> internal/crypto.EncodeKeyVersion)
// writes the standard, padded base64 encoding of a protobuf message
// miniohq.kms.KeyVersion (internal/protobuf/crypto.proto):
//
//	message SecretKey  { bytes Key = 1; uint32 Type = 2; }   // 32 bytes; 1 = AES256, 2 = ChaCha20
//	message HMACKey    { bytes Key = 1; uint32 Hash = 2; }   // 32 bytes; 1 = SHA256
//	message KeyVersion { SecretKey Key = 1; HMACKey HMACKey = 2;
//	                     google.protobuf.Timestamp CreatedAt = 3; string CreatedBy = 4; }
//
// It reads (internal/crypto.ParseKeyVersion) that format and, when the value
// is valid JSON, the format of KES releases before 2024:
//
//	{"bytes":"<base64 32 bytes>","algorithm":"AES256","created_at":"<RFC 3339>","created_by":"<identity>"}
//
// where an empty algorithm means AES256. Every value KES accepts, Decode
// accepts, and Decode refuses what KES refuses (a key that is not 32 bytes, an
// unknown algorithm, a protobuf value without a 32-byte SHA256 HMAC key).
//
// The HMAC key is per-key material KES uses only for its /v1/key/hmac API.
// providers.Key does not carry it, so Encode generates a fresh random one, as
// KES's own import API and `kes migrate` do: a key copied through Encode
// encrypts and decrypts exactly as before, but its HMAC results change.
// EncodeValue keeps a given HMAC key.
//
// Errors never contain key material, nor any byte of the value.
package keskey

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/providers"
)

// Algorithm names, as KES spells them in describe and in legacy values.
const (
	AES256   = "AES256"
	ChaCha20 = "ChaCha20"
)

// KeySize is the size of a secret key and of an HMAC key, in bytes.
const KeySize = 32

// DefaultCreatedBy is the created_by identity the cutover stores record.
const DefaultCreatedBy = "cutover"

// ErrInvalid is wrapped by every error of Decode, Parse and the encoders
// about the value or the key itself (never about I/O).
var ErrInvalid = errors.New("invalid KES key value")

// Value is everything a keystore value holds.
type Value struct {
	// Key is the secret key; Algorithm is always set (AES256 or ChaCha20).
	Key providers.Key
	// HMACKey is the 32-byte HMAC-SHA256 key; nil in legacy JSON values.
	// EncodeValue generates one when it is nil.
	HMACKey   []byte
	CreatedAt time.Time
	CreatedBy string
	// Legacy is true when the value was in the pre-2024 JSON format.
	Legacy bool
}

// Encode returns the value KES v0.24.0 would store for k (see the package
// doc), created by createdBy at now, with a new random HMAC key. It fails,
// wrapping ErrInvalid, if the material is not 32 bytes or the algorithm is
// not AES256 (or "") or ChaCha20.
func Encode(k providers.Key, createdBy string, now time.Time) ([]byte, error) {
	return EncodeValue(Value{Key: k, CreatedAt: now, CreatedBy: createdBy})
}

// EncodeValue is Encode with every field of the value given; a nil HMACKey
// is generated. The result is byte for byte what KES v0.24.0 writes for the
// same fields.
func EncodeValue(v Value) ([]byte, error) {
	typ, err := keyType(v.Key.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(v.Key.Material) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalid, len(v.Key.Material), KeySize)
	}
	hmacKey := v.HMACKey
	if hmacKey == nil {
		if hmacKey, err = newHMACKey(); err != nil {
			return nil, err
		}
	}
	if len(hmacKey) != KeySize {
		return nil, fmt.Errorf("%w: HMAC key is %d bytes, want %d", ErrInvalid, len(hmacKey), KeySize)
	}
	return encodeProto(v, typ, hmacKey), nil
}

// Decode returns the key a keystore value holds, accepting exactly what
// KES v0.24.0 accepts; errors wrap ErrInvalid.
func Decode(b []byte) (providers.Key, error) {
	v, err := Parse(b)
	return v.Key, err
}

// Parse is Decode returning every field of the value.
func Parse(b []byte) (Value, error) {
	if isJSON(b) {
		return parseJSON(b)
	}
	return parseProto(b)
}

// keyType maps an algorithm name to KES's SecretKeyType number; "" is AES256.
func keyType(alg string) (uint64, error) {
	switch alg {
	case "", AES256, "AES256-GCM_SHA256":
		return typeAES256, nil
	case ChaCha20, "XCHACHA20-POLY1305":
		return typeChaCha20, nil
	}
	return 0, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalid, alg)
}

// algorithmName maps KES's SecretKeyType number to its name.
func algorithmName(typ uint64) (string, error) {
	switch typ {
	case typeAES256:
		return AES256, nil
	case typeChaCha20:
		return ChaCha20, nil
	}
	return "", fmt.Errorf("%w: unsupported key type %d", ErrInvalid, typ)
}

// newHMACKey returns 32 random bytes.
func newHMACKey() ([]byte, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating HMAC key: %w", err)
	}
	return b, nil
}
