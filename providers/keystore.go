package providers

import (
	"context"
	"errors"
	"iter"
)

// Errors a KeyStore returns (wrapped with detail).
var (
	// ErrKeyNotFound: no key of that name.
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyExists: Create found a key of that name already.
	ErrKeyExists = errors.New("key already exists")
	// ErrNotReadable: the store never returns key material (KES, AWS KMS);
	// verification must use the store's own operations instead.
	ErrNotReadable = errors.New("key material cannot be read from this store")
	// ErrUnsupported: the store cannot do this operation at all.
	ErrUnsupported = errors.New("not supported by this key store")
	// ErrFormat: the store holds exactly the key compared, but cannot
	// decrypt ciphertexts in the format data sealed under it is in (KES
	// v0.23.0 cannot read KES v0.24.0's): the same key bytes, and still
	// the data would not decrypt. It is never a different key.
	ErrFormat = errors.New("holds the same key bytes but cannot decrypt ciphertexts in the format it is asked to")
)

// Key is raw key material, independent of how a store encodes it.
type Key struct {
	// Material is the secret bytes (32 for AES-256). Never log it.
	Material []byte
	// Algorithm is "AES256" (the default when empty) or "ChaCha20".
	Algorithm string
}

// KeyStore holds raw key material under names. Implementations are safe for
// concurrent use and never log material.
type KeyStore interface {
	// Name is the plan's name for the store ("kms.local").
	Name() string
	// Status checks the store is reachable with the configured credentials.
	Status(ctx context.Context) error
	// List yields every key name matching pattern (a path.Match glob; "" or
	// "*" is everything), following every page. An error ends the sequence.
	List(ctx context.Context, pattern string) iter.Seq2[string, error]
	// Get returns a key's material: ErrKeyNotFound, or ErrNotReadable for
	// stores that never reveal material.
	Get(ctx context.Context, name string) (Key, error)
	// Create stores a new key; ErrKeyExists if the name is taken. Two
	// concurrent Creates of one name: exactly one succeeds.
	Create(ctx context.Context, name string, k Key) error
	// Delete removes a key; ErrKeyNotFound if absent.
	Delete(ctx context.Context, name string) error
}

// Replacer is a KeyStore that can replace a key's material atomically: there
// is no moment when the key is absent. Stores without it refuse
// on_conflict = "overwrite".
type Replacer interface {
	Replace(ctx context.Context, name string, k Key) error
}

// Prover is a KeyStore that can prove, without revealing material, that it
// holds a usable key of that name: a round trip through the store's own API
// (encrypt/decrypt, or generate/decrypt). It shows a key of that name works,
// not which key it is: where a store can, Comparer proves that.
type Prover interface {
	Prove(ctx context.Context, name string) error
}

// Comparer is a KeyStore that never reveals material but can tell whether
// it holds a given key (e.g. KES: it decrypts a ciphertext sealed outside
// the store with k's material in the store's own format).
type Comparer interface {
	// SameKey reports whether the store holds exactly k's material (with
	// k's algorithm) under name, without revealing it: (false, nil) when
	// it holds another key there; ErrKeyNotFound when absent.
	SameKey(ctx context.Context, name string, k Key) (bool, error)
}

// Sealed is a KeyStore that never reveals key material: Get returns
// ErrNotReadable for every key it holds (KES, AWS KMS). Telling whether it
// holds given material then needs a Comparer.
type Sealed interface {
	Sealed()
}

// AlgorithmLimiter is a KeyStore that holds keys of some algorithms only
// (AWS KMS imports AES-256 keys only). A store without it holds whatever
// algorithm a Key carries.
type AlgorithmLimiter interface {
	// Holds reports whether the store can hold a key of algorithm
	// ("AES256" or "ChaCha20"; "" means AES256).
	Holds(algorithm string) bool
}

// KeyStoreConfig is what a `kms` block decodes to: it opens the store.
type KeyStoreConfig interface {
	// Open connects (lazily where possible) and returns the store.
	Open(ctx context.Context) (KeyStore, error)
	// Describe is a one-line, secret-free description ("vault kv2 at https://...").
	Describe() string
}

// RotationFreezer is a KeyStore whose keys can rotate automatically (AWS
// KMS). Key management must be frozen while keys are migrated, so
// migrate_keys disables rotation on the keys of its pattern for the duration
// and restores each key's setting afterwards (or in its compensation).
type RotationFreezer interface {
	// Rotation reports whether automatic rotation is on for a key, and its
	// period in days (0 when the store has no period).
	Rotation(ctx context.Context, name string) (enabled bool, periodDays int32, err error)
	// SetRotationPeriod turns rotation on with the given period (0: the
	// store's default) or, with enabled false, off.
	SetRotationPeriod(ctx context.Context, name string, enabled bool, periodDays int32) error
}

// KeyChecker can prove that any key the store knows — not only keys under
// cutover's names, e.g. an application's AWS KMS key by ARN — exists, is
// enabled, and works: an encrypt/decrypt round trip with the configured
// credentials.
type KeyChecker interface {
	RoundTrip(ctx context.Context, keyRef string) error
}

// Backed is a KeyStoreConfig whose keys live in another store that cutover
// can write directly (KES in its keystore: `keystore = kms.vault`). A key
// a migration writes into Backing is a key this store serves, under the
// same name.
type Backed interface {
	Backing() KeyStoreConfig
}

// KeyNamer is a KeyStoreConfig whose services refer to a key by something
// other than the name cutover writes it under (AWS KMS: the alias
// "alias/<prefix><name>", or its ARN). KeyName maps such a reference back
// to the name; ok is false when ref names no key of cutover's naming (a
// key ID).
type KeyNamer interface {
	KeyName(ref string) (name string, ok bool)
}

// WrittenAs reports under which name a key written into the store into
// is the key the store target serves as ref: target is into, or is Backed
// by into; the name is ref, mapped through target's KeyNamer. ok is false
// when a key written into into is not one target serves as ref.
func WrittenAs(target, into KeyStoreConfig, ref string) (name string, ok bool) {
	if target == nil || into == nil {
		return "", false
	}
	if target != into {
		b, isBacked := target.(Backed)
		if !isBacked || b.Backing() != into {
			return "", false
		}
	}
	if n, isNamer := target.(KeyNamer); isNamer {
		return n.KeyName(ref)
	}
	return ref, true
}
