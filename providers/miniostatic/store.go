package miniostatic

import (
	"bytes"
	"context"
	"fmt"
	"iter"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// Store is the one static key read at Open, as a read-only
// providers.KeyStore. It is safe for concurrent use.
type Store struct {
	name    string
	keyName string
	key     providers.Key
}

var _ providers.KeyStore = (*Store)(nil)

// Name is the plan's name for the store.
func (s *Store) Name() string { return s.name }

// KeyName is the name of the one key: MinIO's default key name, which a
// KES setup must use as MINIO_KMS_KES_KEY_NAME.
func (s *Store) KeyName() string { return s.keyName }

// Status always succeeds: the key was read and validated at Open.
func (s *Store) Status(ctx context.Context) error { return nil }

// List yields the key's name if it matches pattern (a path.Match glob;
// "" or "*" is everything); a malformed pattern is yielded as an error.
func (s *Store) List(ctx context.Context, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		match, err := keskey.Matcher(pattern)
		if err != nil {
			yield("", err)
			return
		}
		if match(s.keyName) {
			yield(s.keyName, nil)
		}
	}
}

// Get returns a copy of the key's material; providers.ErrKeyNotFound for
// any other name.
func (s *Store) Get(ctx context.Context, name string) (providers.Key, error) {
	if name != s.keyName {
		return providers.Key{}, fmt.Errorf("minio static key %q: %w", name, providers.ErrKeyNotFound)
	}
	return providers.Key{Material: bytes.Clone(s.key.Material), Algorithm: s.key.Algorithm}, nil
}

// Create always fails with providers.ErrUnsupported: a static key store
// holds one key, fixed by its configuration.
func (s *Store) Create(ctx context.Context, name string, k providers.Key) error {
	return fmt.Errorf("create %q in a minio static key store: %w", name, providers.ErrUnsupported)
}

// Delete always fails with providers.ErrUnsupported.
func (s *Store) Delete(ctx context.Context, name string) error {
	return fmt.Errorf("delete %q from a minio static key store: %w", name, providers.ErrUnsupported)
}
