// Package keyops holds what the key steps (backup_keys, migrate_keys,
// verify_keys) share: resolving `kms.<name>` references to key stores,
// counting keys, and walking every key of a pattern with a bounded pool of
// workers while the names stream from the store — memory stays flat however
// many keys there are.
package keyops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers"
)

// DefaultConcurrency is the number of keys handled at once when a step does
// not say.
const DefaultConcurrency = 16

// ResolveStore resolves expr (kms.<name>) to the key store it configures.
func ResolveStore(dc *hcldecode.Context, expr hcl.Expression, attr string) (providers.KeyStoreConfig, hcl.Diagnostics) {
	if expr == nil {
		return nil, nil
	}
	obj, diags := dc.Ref(expr, providers.KindKMS, attr)
	if diags.HasErrors() || obj == nil {
		return nil, diags
	}
	cfg, ok := obj.(providers.KeyStoreConfig)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a key store",
			Detail: fmt.Sprintf("%s must refer to a kms block that holds keys.", attr), Subject: expr.Range().Ptr()}}
	}
	return cfg, nil
}

// Open opens a configured store and checks it answers.
func Open(ctx context.Context, cfg providers.KeyStoreConfig) (providers.KeyStore, error) {
	s, err := cfg.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Describe(), err)
	}
	if err := s.Status(ctx); err != nil {
		if httpx.Classify(err) != httpx.Other { // the error says what happened: unreachable, refused, unsupported
			return nil, fmt.Errorf("%s: %w", cfg.Describe(), err)
		}
		return nil, fmt.Errorf("%s is not reachable: %w", cfg.Describe(), err)
	}
	return s, nil
}

// OpenPair opens a source and a target store, checking both answer.
func OpenPair(ctx context.Context, from, to providers.KeyStoreConfig) (providers.KeyStore, providers.KeyStore, error) {
	if from == nil || to == nil {
		return nil, nil, errors.New("the step's key stores have errors")
	}
	src, err := Open(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	dst, err := Open(ctx, to)
	if err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// Count counts the keys matching pattern, following every page.
func Count(ctx context.Context, s providers.KeyStore, pattern string) (int64, error) {
	var n int64
	for _, err := range s.List(ctx, pattern) {
		if err != nil {
			return n, fmt.Errorf("list %s: %w", s.Name(), err)
		}
		n++
	}
	return n, nil
}

// Same reports whether two keys hold the same material and algorithm.
func Same(a, b providers.Key) bool {
	return bytes.Equal(a.Material, b.Material) && Algorithm(a) == Algorithm(b)
}

// Algorithm is k's algorithm, "AES256" when it names none.
func Algorithm(k providers.Key) string {
	if k.Algorithm == "" {
		return "AES256"
	}
	return k.Algorithm
}

// ForEach calls fn for every key of s matching pattern, with at most workers
// calls at once, while names stream from the store. It stops at the first
// error unless keepGoing, in which case it visits every key and returns a
// *KeyErrors naming the keys that failed. A listing error is returned as
// "list <store>: ...".
func ForEach(ctx context.Context, s providers.KeyStore, pattern string, workers int, keepGoing bool, fn func(ctx context.Context, name string) error) error {
	return ForEachName(ctx, Listing(ctx, s, pattern), workers, keepGoing, fn)
}

// Listing is s.List(ctx, pattern) with its error wrapped as "list <store>: ...".
func Listing(ctx context.Context, s providers.KeyStore, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for name, err := range s.List(ctx, pattern) {
			if err != nil {
				yield("", fmt.Errorf("list %s: %w", s.Name(), err))
				return
			}
			if !yield(name, nil) {
				return
			}
		}
	}
}

// ForEachName is ForEach over the names a sequence yields; an error from
// the sequence ends the walk and is returned as is (unless a key failed
// first and ended it).
func ForEachName(ctx context.Context, names iter.Seq2[string, error], workers int, keepGoing bool, fn func(ctx context.Context, name string) error) error {
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan string, workers*2)
	failures := &KeyErrors{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for name := range ch {
				if err := fn(ctx, name); err != nil {
					failures.add(name, err)
					if !keepGoing {
						cancel()
					}
				}
			}
		})
	}
	listErr := feed(ctx, names, ch)
	wg.Wait()
	if listErr != nil && ctx.Err() == nil {
		return listErr
	}
	if failures.Count() > 0 {
		if !keepGoing {
			return failures.First()
		}
		return failures
	}
	return listErr
}

// feed sends the names to out until they end, one errs or ctx ends.
func feed(ctx context.Context, names iter.Seq2[string, error], out chan<- string) error {
	defer close(out)
	for name, err := range names {
		if err != nil {
			return err
		}
		select {
		case out <- name:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// maxNamed is how many failing keys an error names.
const maxNamed = 20

// KeyErrors collects per-key failures: a count, and the first maxNamed.
type KeyErrors struct {
	mu    sync.Mutex
	count int
	first []KeyError
}

// KeyError is one key's failure.
type KeyError struct {
	Name string
	Err  error
}

func (e KeyError) Error() string { return fmt.Sprintf("key %s: %v", e.Name, e.Err) }

// Unwrap returns the cause.
func (e KeyError) Unwrap() error { return e.Err }

func (k *KeyErrors) add(name string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.count++
	if len(k.first) < maxNamed {
		k.first = append(k.first, KeyError{Name: name, Err: err})
	}
}

// Count is the number of keys that failed.
func (k *KeyErrors) Count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.count
}

// First returns the earliest recorded failure.
func (k *KeyErrors) First() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.first) == 0 {
		return nil
	}
	return k.first[0]
}

func (k *KeyErrors) Error() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	sort.Slice(k.first, func(i, j int) bool { return k.first[i].Name < k.first[j].Name })
	parts := make([]string, len(k.first))
	for i, e := range k.first {
		parts[i] = e.Error()
	}
	msg := fmt.Sprintf("%d keys failed: %s", k.count, strings.Join(parts, "; "))
	if k.count > len(k.first) {
		msg += fmt.Sprintf("; and %d more", k.count-len(k.first))
	}
	return msg
}

// Is lets errors.Is see through to the first failure's cause.
func (k *KeyErrors) Is(target error) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.first {
		if errors.Is(e.Err, target) {
			return true
		}
	}
	return false
}

// Verify proves that dst holds key k under name: byte comparison where dst
// can be read; where it cannot, the store's own comparison
// (providers.Comparer, e.g. KES decrypting a ciphertext sealed with k's
// material), which tells k from any other key under that name. Only a
// store with neither falls back to a round trip through its API
// (providers.Prover), which proves a working key of that name exists, not
// that it is k.
func Verify(ctx context.Context, dst providers.KeyStore, name string, k providers.Key) error {
	got, err := dst.Get(ctx, name)
	switch {
	case err == nil:
		if !Same(got, k) {
			return errors.New("verification failed: the target holds different material")
		}
		return nil
	case errors.Is(err, providers.ErrNotReadable):
		if c, ok := dst.(providers.Comparer); ok {
			same, err := c.SameKey(ctx, name, k)
			if err != nil {
				return fmt.Errorf("verification failed: %w", err)
			}
			if !same {
				return errors.New("verification failed: the target holds a DIFFERENT key under this name")
			}
			return nil
		}
		p, ok := dst.(providers.Prover)
		if !ok {
			return errors.New("verification impossible: the target neither reveals material nor offers a round trip")
		}
		if err := p.Prove(ctx, name); err != nil {
			return fmt.Errorf("verification failed: %w", err)
		}
		return nil
	}
	return fmt.Errorf("verification failed: %w", err)
}
