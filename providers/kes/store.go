package kes

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cutover/cutover/internal/keskey"
	"github.com/cutover/cutover/providers"
)

// API routes of KES v0.24.0 (internal/api/api.go).
const (
	routeStatus   = "/v1/status"
	routeImport   = "/v1/key/import/"
	routeDescribe = "/v1/key/describe/"
	routeList     = "/v1/key/list/"
	routeDelete   = "/v1/key/delete/"
	routeEncrypt  = "/v1/key/encrypt/"
	routeDecrypt  = "/v1/key/decrypt/"
)

// ErrKeyStoreUnreachable means KES answers but cannot reach its own
// keystore (Vault, AWS, its directory): /v1/status says keystore_unreachable.
var ErrKeyStoreUnreachable = errors.New("kes: the server cannot reach its keystore")

// Store is a KES server as a providers.KeyStore and providers.Prover. It is
// safe for concurrent use. It is not a providers.Replacer: see the package
// documentation.
type Store struct {
	name    string
	base    *url.URL
	enclave string
	client  *http.Client
}

var (
	_ providers.KeyStore = (*Store)(nil)
	_ providers.Prover   = (*Store)(nil)
)

// Name is the plan's name for the store.
func (s *Store) Name() string { return s.name }

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

// Prove encrypts a random plaintext under the key with a random context
// and decrypts it back through the API. Errors: providers.ErrKeyNotFound,
// ErrProof when the plaintext does not come back, or an *APIError.
func (s *Store) Prove(ctx context.Context, name string) error {
	if err := existingName(name); err != nil {
		return err
	}
	plaintext, context := random(32), random(16)
	var enc struct {
		Ciphertext []byte `json:"ciphertext"`
	}
	in := map[string][]byte{"plaintext": plaintext, "context": context}
	if err := s.call(ctx, http.MethodPut, apiPath(routeEncrypt, name), in, &enc); err != nil {
		return err
	}
	var dec struct {
		Plaintext []byte `json:"plaintext"`
	}
	in = map[string][]byte{"ciphertext": enc.Ciphertext, "context": context}
	if err := s.call(ctx, http.MethodPut, apiPath(routeDecrypt, name), in, &dec); err != nil {
		return err
	}
	if !bytes.Equal(dec.Plaintext, plaintext) {
		return fmt.Errorf("%w: key %q decrypted to a different plaintext", ErrProof, name)
	}
	return nil
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
