package keskey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/cutover/cutover/providers"
)

// The ciphertext format of KES up to v0.23.0 (internal/key ciphertext
// MarshalBinary): a MessagePack array of five items,
//
//	[algorithm string, key id string, iv bin(16), nonce bin(12), sealed bin]
//
// sealed with the same per-message AEAD as the v0.24.0 format (messageAEAD).
// The key id is hex(SHA-256(material)[:16]); v0.23.0 does not check it.
// KES v0.23.0 reads this format (and an older JSON one) but not v0.24.0's
// raw sealed||iv||nonce: given a v0.24.0 ciphertext it answers "decryption
// failed: ciphertext is not authentic" even when it holds the very key.
// SealLegacy lets a caller tell that case from a different key.

// SealLegacy encrypts plaintext under k in the format of KES v0.23.0 and
// earlier, with associatedData as the request's context. Errors wrap
// ErrInvalid when k is not a valid key; they never contain material.
func SealLegacy(k providers.Key, plaintext, associatedData []byte) ([]byte, error) {
	return sealLegacy(rand.Reader, k, plaintext, associatedData)
}

func sealLegacy(random io.Reader, k providers.Key, plaintext, associatedData []byte) ([]byte, error) {
	typ, err := keyType(k.Algorithm)
	if err != nil {
		return nil, err
	}
	var r [ivSize + nonceSize]byte
	if _, err := io.ReadFull(random, r[:]); err != nil {
		return nil, fmt.Errorf("keskey: generating iv and nonce: %w", err)
	}
	aead, err := messageAEAD(k, r[:ivSize])
	if err != nil {
		return nil, err
	}
	sealed := aead.Seal(nil, r[ivSize:], plaintext, associatedData)
	alg := AES256
	if typ != typeAES256 {
		alg = ChaCha20
	}
	sum := sha256.Sum256(k.Material)
	out := []byte{0x95} // fixarray of 5
	out = msgpString(out, alg)
	out = msgpString(out, hex.EncodeToString(sum[:16]))
	out = msgpBin(out, r[:ivSize])
	out = msgpBin(out, r[ivSize:])
	return msgpBin(out, sealed), nil
}

// msgpString appends s as a MessagePack fixstr or str8 (s is short).
func msgpString(b []byte, s string) []byte {
	if len(s) < 32 {
		b = append(b, 0xa0|byte(len(s)))
	} else {
		b = append(b, 0xd9, byte(len(s)))
	}
	return append(b, s...)
}

// msgpBin appends p as a MessagePack bin8, bin16 or bin32.
func msgpBin(b, p []byte) []byte {
	switch n := len(p); {
	case n < 1<<8:
		b = append(b, 0xc4, byte(n))
	case n < 1<<16:
		b = append(b, 0xc5, byte(n>>8), byte(n))
	default:
		b = append(b, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}
