package keskey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/cutover/cutover/providers"
)

// The ciphertext format of KES v0.24.0 (internal/crypto SecretKey.Encrypt),
// what its /v1/key/encrypt and /v1/key/generate APIs return and what
// /v1/key/decrypt opens:
//
//	ciphertext = sealed || iv (16 bytes) || nonce (12 bytes)
//
// where sealed is the AEAD seal of the plaintext, with the request's
// context as associated data, under a per-message key derived from the
// secret key and the random iv:
//
//	AES256:   AES-256-GCM       under HMAC-SHA256(key, iv)
//	ChaCha20: ChaCha20-Poly1305 under HChaCha20(key, iv)
//
// The format names neither the key nor its algorithm: a ciphertext opens
// only under the same material used with the same algorithm.
const (
	ivSize    = 16
	nonceSize = 12
	// Overhead is how much longer a ciphertext is than its plaintext: the
	// 16-byte AEAD tag, the iv and the nonce.
	Overhead = 16 + ivSize + nonceSize
)

// ErrNotAuthentic is Open's error for a ciphertext that is not authentic
// under the key and associated data given: made with other material or
// another algorithm, another context, tampered with, or not a ciphertext of
// this format at all. KES answers its decrypt API the same way (400
// "decryption failed: ciphertext is not authentic").
var ErrNotAuthentic = errors.New("KES ciphertext is not authentic under this key")

// Seal encrypts plaintext under k exactly as KES v0.24.0 encrypts with a key
// of that material and algorithm, with associatedData as the request's
// context: KES's /v1/key/decrypt API, given the result and the same
// context, returns plaintext if and only if it holds k's material with
// k's algorithm under the name asked. Each call uses a fresh random iv and
// nonce. Errors wrap ErrInvalid when k is not a 32-byte AES256 (or "") or
// ChaCha20 key; they never contain material or plaintext.
func Seal(k providers.Key, plaintext, associatedData []byte) ([]byte, error) {
	return seal(rand.Reader, k, plaintext, associatedData)
}

// seal is Seal with the source of the iv and nonce.
func seal(random io.Reader, k providers.Key, plaintext, associatedData []byte) ([]byte, error) {
	var r [ivSize + nonceSize]byte
	if _, err := io.ReadFull(random, r[:]); err != nil {
		return nil, fmt.Errorf("keskey: generating iv and nonce: %w", err)
	}
	aead, err := messageAEAD(k, r[:ivSize])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(plaintext)+Overhead)
	out = aead.Seal(out, r[ivSize:], plaintext, associatedData)
	return append(out, r[:]...), nil
}

// Open decrypts a ciphertext KES v0.24.0 made (its encrypt or generate API)
// with a key of k's material and algorithm, or one Seal made with k, given
// the same associated data (the request's context). It returns
// ErrNotAuthentic when the ciphertext does not open under k — the key that
// made it is not k — and errors wrapping ErrInvalid when k is not a valid
// key. Only the binary format KES has produced since 2023 is accepted, not
// the JSON or MessagePack ciphertexts of older releases. Errors never
// contain material, plaintext or ciphertext.
func Open(k providers.Key, ciphertext, associatedData []byte) ([]byte, error) {
	if _, err := keyType(k.Algorithm); err != nil {
		return nil, err
	}
	if len(k.Material) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalid, len(k.Material), KeySize)
	}
	if len(ciphertext) < Overhead {
		return nil, ErrNotAuthentic
	}
	n := len(ciphertext) - ivSize - nonceSize
	sealed, iv, nonce := ciphertext[:n], ciphertext[n:n+ivSize], ciphertext[n+ivSize:]
	aead, err := messageAEAD(k, iv)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, nonce, sealed, associatedData)
	if err != nil {
		return nil, ErrNotAuthentic
	}
	return plaintext, nil
}

// messageAEAD derives the AEAD of one message from k and its iv.
func messageAEAD(k providers.Key, iv []byte) (cipher.AEAD, error) {
	typ, err := keyType(k.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(k.Material) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalid, len(k.Material), KeySize)
	}
	switch typ {
	case typeAES256:
		prf := hmac.New(sha256.New, k.Material)
		prf.Write(iv)
		block, err := aes.NewCipher(prf.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("keskey: AES: %w", err)
		}
		return cipher.NewGCM(block)
	default: // typeChaCha20
		key, err := chacha20.HChaCha20(k.Material, iv)
		if err != nil {
			return nil, fmt.Errorf("keskey: HChaCha20: %w", err)
		}
		return chacha20poly1305.New(key)
	}
}
