package kes

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// API routes of KES v0.24.0 (internal/api/api.go).
const (
	routeStatus   = "/v1/status"
	routeImport   = "/v1/key/import/"
	routeDescribe = "/v1/key/describe/"
	routeList     = "/v1/key/list/"
	routeDelete   = "/v1/key/delete/"
	routeGenerate = "/v1/key/generate/"
	routeDecrypt  = "/v1/key/decrypt/"
)

// ErrKeyStoreUnreachable means KES answers but cannot reach its own
// keystore (Vault, AWS, its directory): /v1/status says keystore_unreachable.
var ErrKeyStoreUnreachable = errors.New("kes: the server cannot reach its keystore")

// Store is a KES server as a providers.KeyStore, providers.Comparer and
// providers.Prover. It is safe for concurrent use. It is not a
// providers.Replacer: see the package documentation.
type Store struct {
	name    string
	base    *url.URL
	enclave string
	client  *http.Client
}

var (
	_ providers.KeyStore = (*Store)(nil)
	_ providers.Prover   = (*Store)(nil)
	_ providers.Comparer = (*Store)(nil)
)

// Name is the plan's name for the store.
func (s *Store) Name() string { return s.name }

// Sealed marks the store as one that never reveals key material
// (providers.Sealed); it compares keys instead (providers.Comparer).
func (s *Store) Sealed() {}

// Holds reports whether KES can import a key of algorithm: AES256 or
// ChaCha20 (providers.AlgorithmLimiter).
func (s *Store) Holds(algorithm string) bool {
	switch algorithm {
	case "", keskey.AES256, keskey.ChaCha20:
		return true
	}
	return false
}

// ServerStatus is what GET /v1/status reports.
type ServerStatus struct {
	Version             string `json:"version"`
	UptimeSeconds       uint64 `json:"uptime"`
	KeyStoreLatencyMS   int64  `json:"keystore_latency"`
	KeyStoreUnreachable bool   `json:"keystore_unreachable"`
}

// ServerStatus calls GET /v1/status. Errors: an *APIError (ErrNotAllowed
// when the identity may not call it), or a transport error.
func (s *Store) ServerStatus(ctx context.Context) (ServerStatus, error) {
	var st ServerStatus
	err := s.call(ctx, http.MethodGet, routeStatus, nil, &st)
	return st, err
}

// Status checks the server answers this identity and reaches its
// keystore (ErrKeyStoreUnreachable otherwise).
func (s *Store) Status(ctx context.Context) error {
	st, err := s.ServerStatus(ctx)
	if err != nil {
		return err
	}
	if st.KeyStoreUnreachable {
		return fmt.Errorf("%w (kes %s at %s)", ErrKeyStoreUnreachable, st.Version, s.base)
	}
	return nil
}

// KeyInfo is what KES says about a key (GET /v1/key/describe).
type KeyInfo struct {
	Name      string    `json:"name"`
	Algorithm string    `json:"algorithm"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Describe returns the key's metadata; providers.ErrKeyNotFound if KES has
// no such key (or the name is one KES cannot hold).
func (s *Store) Describe(ctx context.Context, name string) (KeyInfo, error) {
	if err := existingName(name); err != nil {
		return KeyInfo{}, err
	}
	var info KeyInfo
	err := s.call(ctx, http.MethodGet, apiPath(routeDescribe, name), nil, &info)
	return info, err
}

// Get never returns material: providers.ErrNotReadable when the key
// exists, providers.ErrKeyNotFound when it does not.
func (s *Store) Get(ctx context.Context, name string) (providers.Key, error) {
	if _, err := s.Describe(ctx, name); err != nil {
		return providers.Key{}, err
	}
	return providers.Key{}, fmt.Errorf("kes key %q: %w", name, providers.ErrNotReadable)
}

// importRequest is the body of PUT /v1/key/import/<name>.
type importRequest struct {
	Key    []byte `json:"key"` // base64 in JSON
	Cipher string `json:"cipher"`
}

// Create imports k under name. KES creates keys exclusively (the fs
// keystore with O_EXCL), so of concurrent Creates exactly one succeeds
// and the others get providers.ErrKeyExists. A name KES cannot hold wraps
// keskey.ErrInvalidName; an algorithm other than AES256 and ChaCha20 is
// providers.ErrUnsupported.
func (s *Store) Create(ctx context.Context, name string, k providers.Key) error {
	if err := keskey.ValidName(name); err != nil {
		return fmt.Errorf("kes: %w", err)
	}
	cipher, err := cipherName(k)
	if err != nil {
		return err
	}
	err = s.call(ctx, http.MethodPut, apiPath(routeImport, name), importRequest{Key: k.Material, Cipher: cipher}, nil)
	return s.lostRace(ctx, name, err)
}

// lostRace turns the 502 KES on Vault answers to the losers of concurrent
// imports of one name into providers.ErrKeyExists, when the key exists
// afterwards. (Its vault keystore writes with check-and-set 0, so exactly
// one import wins, but it reports Vault's refusal as "failed to create
// key".) Should the 502 hide a write that did land, the caller sees
// ErrKeyExists for its own key, which a verify of the key settles.
func (s *Store) lostRace(ctx context.Context, name string, err error) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadGateway {
		return err
	}
	if _, derr := s.Describe(ctx, name); derr != nil {
		return err
	}
	return fmt.Errorf("%w: kes answered %d %q to the import, and the key exists", providers.ErrKeyExists, apiErr.Status, apiErr.Message)
}

// cipherName is the import API's name for k's algorithm, once k's size
// is checked.
func cipherName(k providers.Key) (string, error) {
	if len(k.Material) != keskey.KeySize {
		return "", fmt.Errorf("kes: key material is %d bytes, want %d", len(k.Material), keskey.KeySize)
	}
	switch k.Algorithm {
	case "", keskey.AES256:
		return keskey.AES256, nil
	case keskey.ChaCha20:
		return keskey.ChaCha20, nil
	}
	return "", fmt.Errorf("kes: algorithm %q: %w", k.Algorithm, providers.ErrUnsupported)
}

// Delete deletes the key; providers.ErrKeyNotFound if it is absent. It
// describes the key first because some KES keystores answer a delete of
// a missing key with success.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, err := s.Describe(ctx, name); err != nil {
		return err
	}
	return s.call(ctx, http.MethodDelete, apiPath(routeDelete, name), nil, nil)
}

// SameKey reports whether KES holds exactly k (its material, used with its
// algorithm) under name, without either side revealing material: it seals
// a random plaintext under k with a random context in KES's ciphertext
// format (keskey.Seal) and asks KES to decrypt it (PUT /v1/key/decrypt).
// The AEAD of that format authenticates under the key, so KES gives the
// plaintext back only if its key is k; any other key fails with 400
// "decryption failed: ciphertext is not authentic", which is (false, nil).
// Errors: providers.ErrKeyNotFound when KES has no key of that name (or
// the name is one KES cannot hold), an error for a k KES could not hold
// (not 32 bytes; providers.ErrUnsupported for other algorithms), or an
// *APIError (ErrNotAllowed when the identity may not decrypt). Only the
// decrypt API is used, which MinIO's usual KES policy allows.
func (s *Store) SameKey(ctx context.Context, name string, k providers.Key) (bool, error) {
	if err := existingName(name); err != nil {
		return false, err
	}
	if _, err := cipherName(k); err != nil {
		return false, err
	}
	plaintext, aad := random(32), random(16)
	ciphertext, err := keskey.Seal(k, plaintext, aad)
	if err != nil {
		return false, fmt.Errorf("kes: %w", err)
	}
	same, err := s.opens(ctx, name, ciphertext, aad, plaintext)
	if err != nil || same {
		return same, err
	}
	return false, s.olderFormat(ctx, name, k)
}

// opens asks KES to decrypt ciphertext under name and reports whether it
// gave plaintext back: (false, nil) when KES finds it not authentic.
func (s *Store) opens(ctx context.Context, name string, ciphertext, aad, plaintext []byte) (bool, error) {
	got, err := s.decrypt(ctx, name, ciphertext, aad)
	if notAuthentic(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if subtle.ConstantTimeCompare(got, plaintext) != 1 {
		// An authentic ciphertext cannot open to another plaintext: the
		// server is not answering as KES does.
		return false, fmt.Errorf("%w: kes decrypted key %q's test ciphertext to a different plaintext", ErrProof, name)
	}
	return true, nil
}

// olderFormat tells, after KES refused a v0.24.0-format ciphertext under
// k, a different key (nil) from the same key on a KES that cannot read
// that format: it seals again in the format of KES v0.23.0 and earlier
// (keskey.SealLegacy); if KES opens that one, it holds k, and the error
// wraps providers.ErrFormat naming the server's version.
func (s *Store) olderFormat(ctx context.Context, name string, k providers.Key) error {
	plaintext, aad := random(32), random(16)
	ciphertext, err := keskey.SealLegacy(k, plaintext, aad)
	if err != nil {
		return fmt.Errorf("kes: %w", err)
	}
	if same, err := s.opens(ctx, name, ciphertext, aad, plaintext); err != nil || !same {
		return err
	}
	version := "unknown"
	if st, err := s.ServerStatus(ctx); err == nil && st.Version != "" {
		version = st.Version
	}
	return fmt.Errorf("the KES at %s (version %s) %w: it opens key %q's ciphertexts in the older MessagePack format, not KES v0.24.0's (which KES v0.24.0 and later seal data keys in, and cutover sealed with the source's material); upgrade it to KES v0.24.0 or later",
		s.base, version, providers.ErrFormat, name)
}

// notAuthentic reports whether err is KES's answer to a ciphertext its key
// cannot open: 400 "decryption failed: ciphertext is not authentic"
// (kms-go kes.ErrDecrypt).
func notAuthentic(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && apiErr.Err == ErrProof
}

// Prove asks KES for a data key under name (PUT /v1/key/generate, with a
// random context: KES returns a random plaintext and its ciphertext under
// the key) and decrypts the ciphertext back (PUT /v1/key/decrypt), which
// must give the same plaintext. These are the two operations MinIO uses
// and its usual KES policy allows (generate and decrypt; not encrypt).
// Prove shows KES holds a working key of that name, not which key it is:
// SameKey does. Errors: providers.ErrKeyNotFound, ErrProof when the
// plaintext does not come back, or an *APIError.
func (s *Store) Prove(ctx context.Context, name string) error {
	if err := existingName(name); err != nil {
		return err
	}
	aad := random(16)
	plaintext, ciphertext, err := s.generate(ctx, name, aad)
	if err != nil {
		return err
	}
	got, err := s.decrypt(ctx, name, ciphertext, aad)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, plaintext) != 1 {
		return fmt.Errorf("%w: key %q decrypted its data key to a different plaintext", ErrProof, name)
	}
	return nil
}

// DecryptsFrom reports whether this KES decrypts a data key the KES other
// generates under name now (other's /v1/key/generate, this one's
// /v1/key/decrypt): whether what other seals under name opens here, which
// is what MinIO needs of a new KES. Neither side reveals material, and
// only the two operations MinIO's usual policy allows are used. (false,
// nil) when this KES finds the ciphertext not authentic: it holds another
// key of that name, or cannot read other's ciphertext format. Errors:
// providers.ErrKeyNotFound from either server, ErrProof, an *APIError.
func (s *Store) DecryptsFrom(ctx context.Context, other *Store, name string) (bool, error) {
	if err := existingName(name); err != nil {
		return false, err
	}
	aad := random(16)
	plaintext, ciphertext, err := other.generate(ctx, name, aad)
	if err != nil {
		return false, fmt.Errorf("%s: %w", other.base, err)
	}
	return s.opens(ctx, name, ciphertext, aad, plaintext)
}

// generate asks KES for a data key under name (PUT /v1/key/generate) with
// aad as its context, and returns the plaintext and its ciphertext.
func (s *Store) generate(ctx context.Context, name string, aad []byte) (plaintext, ciphertext []byte, err error) {
	var gen struct {
		Plaintext  []byte `json:"plaintext"`
		Ciphertext []byte `json:"ciphertext"`
	}
	in := map[string][]byte{"context": aad}
	if err := s.call(ctx, http.MethodPut, apiPath(routeGenerate, name), in, &gen); err != nil {
		return nil, nil, err
	}
	if len(gen.Plaintext) != keskey.KeySize || len(gen.Ciphertext) == 0 {
		return nil, nil, fmt.Errorf("%w: kes generated a %d-byte data key and a %d-byte ciphertext with key %q",
			ErrProof, len(gen.Plaintext), len(gen.Ciphertext), name)
	}
	return gen.Plaintext, gen.Ciphertext, nil
}

// decrypt calls PUT /v1/key/decrypt/<name>.
// aad is KES's "context", the associated data the ciphertext was sealed with.
func (s *Store) decrypt(ctx context.Context, name string, ciphertext, aad []byte) ([]byte, error) {
	var dec struct {
		Plaintext []byte `json:"plaintext"`
	}
	in := map[string][]byte{"ciphertext": ciphertext, "context": aad}
	if err := s.call(ctx, http.MethodPut, apiPath(routeDecrypt, name), in, &dec); err != nil {
		return nil, err
	}
	return dec.Plaintext, nil
}

// existingName returns providers.ErrKeyNotFound for a name no KES key can
// have, so that no request is sent for it.
func existingName(name string) error {
	if err := keskey.ValidName(name); err != nil {
		return fmt.Errorf("kes: %w: %w", providers.ErrKeyNotFound, err)
	}
	return nil
}

// random returns n random bytes.
func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
