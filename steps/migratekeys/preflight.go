package migratekeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
)

// ErrWouldFail is wrapped by a preflight that found keys the copy would
// fail on: a run would drain, back up and start copying, then fail.
var ErrWouldFail = errors.New("the copy would fail")

// findingNamed is how many key names a preflight finding names.
const findingNamed = 5

// findings collects, by kind, the keys the copy would fail on.
type findings struct {
	mu    sync.Mutex
	kinds []string // in order of first appearance
	count map[string]int
	names map[string][]string
}

func (f *findings) add(kind, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count == nil {
		f.count, f.names = map[string]int{}, map[string][]string{}
	}
	if f.count[kind] == 0 {
		f.kinds = append(f.kinds, kind)
	}
	f.count[kind]++
	if len(f.names[kind]) < findingNamed {
		f.names[kind] = append(f.names[kind], name)
	}
}

// err is nil without findings, else one ErrWouldFail naming up to findingNamed
// keys of each kind.
func (f *findings) err() error {
	if len(f.kinds) == 0 {
		return nil
	}
	parts := make([]string, 0, len(f.kinds))
	for _, kind := range f.kinds {
		slices.Sort(f.names[kind])
		names := strings.Join(f.names[kind], ", ")
		if more := f.count[kind] - len(f.names[kind]); more > 0 {
			names += fmt.Sprintf(" and %d more", more)
		}
		parts = append(parts, names+": "+kind)
	}
	return fmt.Errorf("%w: %s", ErrWouldFail, strings.Join(parts, "; "))
}

// Finding kinds, each with what the operator can do.
const (
	findConflict  = `already at the target, and on_conflict = "fail" stops at the first (remove them, or set on_conflict = "verify" to skip identical keys)`
	findDifferent = `at the target with DIFFERENT material, which on_conflict = "verify" refuses (remove them, or set on_conflict = "overwrite" where the target can replace atomically)`
	findFormat    = `at the target, which holds the same key bytes but cannot decrypt ciphertexts in the source's format`
	findAlgorithm = `an algorithm the target cannot hold: `
)

// checkVerifiable refuses on_conflict = "verify" into a store that can
// neither show key material nor compare it: a key of the same name could
// never be told identical, so the run would fail on it.
func (s *Step) checkVerifiable(dst providers.KeyStore) error {
	_, sealed := dst.(providers.Sealed)
	_, compares := dst.(providers.Comparer)
	if s.onConflict == OnConflictVerify && sealed && !compares {
		return fmt.Errorf("on_conflict = \"verify\" compares a key already at the target with the source's, and %s can neither reveal nor compare key material; use \"fail\" (checked before the run)", s.to.Describe())
	}
	return nil
}

// targetNames lists the names matching the pattern at the target.
func (s *Step) targetNames(ctx context.Context, dst providers.KeyStore) (map[string]bool, error) {
	names := map[string]bool{}
	for name, err := range keyops.Listing(ctx, dst, s.pattern) {
		if err != nil {
			return nil, err
		}
		names[name] = true
	}
	return names, nil
}

// checkKeys walks the source's keys and finds, before anything changes, the
// ones the copy would fail on: a name the target holds under on_conflict =
// "fail"; under "verify", a name the target holds with other material (or
// cannot compare); a key whose algorithm the target cannot hold. Source keys
// are read only where a finding needs their material.
func (s *Step) checkKeys(ctx context.Context, src, dst providers.KeyStore, existing map[string]bool) error {
	limiter, limited := dst.(providers.AlgorithmLimiter)
	if len(existing) == 0 && !limited {
		return nil
	}
	f := &findings{}
	err := keyops.ForEach(ctx, src, s.pattern, s.concurrency, true, func(ctx context.Context, name string) error {
		conflict := existing[name]
		if conflict && s.onConflict == OnConflictFail {
			f.add(findConflict, name)
		}
		needKey := limited || (conflict && s.onConflict == OnConflictVerify)
		if !needKey {
			return nil
		}
		k, err := src.Get(ctx, name)
		if err != nil {
			return fmt.Errorf("read from source: %w", err)
		}
		if limited && !limiter.Holds(keyops.Algorithm(k)) {
			f.add(findAlgorithm+keyops.Algorithm(k), name)
		}
		if conflict && s.onConflict == OnConflictVerify {
			return s.verifyConflict(ctx, f, dst, name, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.err()
}

// verifyConflict records a key under on_conflict = "verify" that the run
// would not skip as identical.
func (s *Step) verifyConflict(ctx context.Context, f *findings, dst providers.KeyStore, name string, k providers.Key) error {
	same, err := sameAtTarget(ctx, dst, name, k)
	switch {
	case errors.Is(err, providers.ErrFormat):
		f.add(findFormat, name)
	case errors.Is(err, providers.ErrKeyNotFound):
		// deleted since the listing: the run will create it
	case err != nil:
		return fmt.Errorf("compare with the target: %w", err)
	case !same:
		f.add(findDifferent, name)
	}
	return nil
}
