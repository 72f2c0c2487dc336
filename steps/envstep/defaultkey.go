package envstep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

// ErrDefaultKey is wrapped by every refusal of MinIO's default key: it is
// missing at the new KMS (MinIO would create an empty one at startup), or
// it is not the key MinIO's objects were sealed with.
var ErrDefaultKey = errors.New("MinIO's default key")

// writer is a step before this one that copies keys into a store.
type writer struct {
	id string
	w  steps.KeyWriter
}

// kmsSwitch reads MinIO's KMS from an env file's bytes before this step
// and as the step leaves them.
func (s *Step) kmsSwitch(rt steps.Runtime, data []byte) (before, after minioKMS, err error) {
	f, err := envfile.Parse(data)
	if err != nil {
		return before, after, err
	}
	if before, err = readKMS(f); err != nil {
		return before, after, fmt.Errorf("before this step: %w", err)
	}
	g := f.Clone()
	s.edit(g)
	if after, err = readKMS(g); err != nil {
		return before, after, fmt.Errorf("after this step: %w", err)
	}
	rt.Secrets().Add(before.kes.APIKey, after.kes.APIKey)
	return before, after, nil
}

// kesConfig is the key store cutover checks a KES setting through: the
// plan's kes block with one of its endpoints (cutover's credentials, and
// its keystore, if it names one), else MinIO's own settings.
func (s *Step) kesConfig(m minioKMS) providers.KeyStoreConfig {
	refs := make([]string, 0, len(s.kmsBlocks))
	for ref := range s.kmsBlocks {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		if c, ok := s.kmsBlocks[ref].(*kes.Config); ok && slices.Contains(m.endpoints, strings.TrimSuffix(c.Endpoint, "/")) {
			return c
		}
	}
	c := m.kes
	return &c
}

// sealedBy is what cutover knows of the key MinIO's objects were sealed
// with: its material, or the old KES that holds it; neither when it
// cannot know (why says so).
type sealedBy struct {
	material *providers.Key
	kes      *kes.Store
	why      string
}

// oldKey finds the old default key, when the name stays the same.
func (s *Step) oldKey(ctx context.Context, before, after minioKMS) (sealedBy, error) {
	switch {
	case before.kind == kmsNone:
		return sealedBy{why: "MinIO has no KMS before this step"}, nil
	case before.key != after.key:
		return sealedBy{why: fmt.Sprintf("the default key changes name (%s to %s): objects sealed under %s need that key at the new KMS too, and are not checked here", before.key, after.key, before.key)}, nil
	case before.kind == kmsStatic:
		return sealedBy{material: &before.static}, nil
	case before.kind == kmsKeyManager:
		return sealedBy{why: "cutover cannot reach " + before.describe()}, nil
	case sameKES(before, after):
		return sealedBy{why: "MinIO keeps the same KES"}, nil
	}
	cfg := s.kesConfig(before)
	if b, ok := cfg.(providers.Backed); ok && b.Backing() != nil {
		if st, err := keyops.Open(ctx, b.Backing()); err == nil {
			if k, err := st.Get(ctx, before.key); err == nil {
				return sealedBy{material: &k}, nil
			}
		}
	}
	old, err := kes.New(*cfg.(*kes.Config))
	if err == nil {
		err = old.Status(ctx)
	}
	if err != nil {
		return sealedBy{}, fmt.Errorf("cannot reach MinIO's current KMS, %s, to compare its default key %q: %w", cfg.Describe(), before.key, err)
	}
	return sealedBy{kes: old}, nil
}

// same reports whether k is the old key (checked false when it cannot tell).
func (r sealedBy) same(ctx context.Context, name string, k providers.Key) (same, checked bool, err error) {
	switch {
	case r.material != nil:
		return keyops.Same(k, *r.material), true, nil
	case r.kes != nil:
		same, err = r.kes.SameKey(ctx, name, k)
		return same, true, err
	}
	return false, false, nil
}

// describe says where the old key was compared from.
func (r sealedBy) describe(before minioKMS) string {
	return "the key MinIO's objects were sealed with (" + before.describe() + ")"
}

// checkDefaultKey checks MinIO's default key across this step's change of
// the env file whose bytes before the step are data: which KMS MinIO will
// use and its default key; that the key exists there (or, before the run,
// will: an earlier migrate_keys step writes it, into that store or the
// keystore behind it); and, where cutover can compare, that it is the key
// MinIO's objects were sealed with. atApply means the key must exist now.
// An error (wrapping ErrDefaultKey when the key is at fault) refuses.
func (s *Step) checkDefaultKey(ctx context.Context, rt steps.Runtime, data []byte, atApply bool) ([]steps.Action, error) {
	before, after, err := s.kmsSwitch(rt, data)
	if err != nil {
		return nil, err
	}
	switch after.kind {
	case kmsNone:
		if before.kind == kmsNone {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: after this step MinIO's env configures no KMS, so MinIO could not decrypt the objects sealed through %s", ErrDefaultKey, before.describe())
	case kmsKeyManager:
		return []steps.Action{{Warning: true, Unverified: true, Summary: fmt.Sprintf(
			"MinIO's KMS after this step is %s with default key %q: cutover cannot reach AIStor Key Manager, so it did not check that the key exists there, nor that it is the key MinIO's objects were sealed with; `cutover run` needs --accept-unverified-kms",
			after.describe(), after.key)}}, nil
	}
	old, err := s.oldKey(ctx, before, after)
	if err != nil {
		return nil, err
	}
	if after.kind == kmsStatic {
		return checkMaterial(ctx, after.key, after.static, old, before, "is in the env file")
	}
	return s.checkKES(ctx, after, before, old, atApply)
}

// checkMaterial checks key material MinIO will use against the old key.
func checkMaterial(ctx context.Context, name string, k providers.Key, old sealedBy, before minioKMS, where string) ([]steps.Action, error) {
	same, checked, err := old.same(ctx, name, k)
	switch {
	case err != nil:
		return nil, fmt.Errorf("compare MinIO's default key %q with %s: %w", name, old.describe(before), err)
	case !checked:
		return []steps.Action{{Summary: fmt.Sprintf("MinIO's default key %q %s; not compared with the key MinIO's objects were sealed with: %s", name, where, old.why)}}, nil
	case !same:
		return nil, fmt.Errorf("%w %q %s, and it is a DIFFERENT key from %s: MinIO could not read its objects", ErrDefaultKey, name, where, old.describe(before))
	}
	return []steps.Action{{Summary: fmt.Sprintf("MinIO's default key %q %s, and is %s", name, where, old.describe(before))}}, nil
}

// checkKES checks the default key at the KES MinIO will use.
func (s *Step) checkKES(ctx context.Context, after, before minioKMS, old sealedBy, atApply bool) ([]steps.Action, error) {
	cfg := s.kesConfig(after)
	store, err := openKES(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("MinIO's KMS after this step: %w", err)
	}
	_, err = store.Get(ctx, after.key)
	switch {
	case err == nil || errors.Is(err, providers.ErrNotReadable):
		return compareAtKES(ctx, store.(*kes.Store), cfg, after.key, old, before)
	case !errors.Is(err, providers.ErrKeyNotFound):
		return nil, fmt.Errorf("look up MinIO's default key %q at %s: %w", after.key, cfg.Describe(), err)
	}
	if !atApply {
		for _, w := range s.writers {
			k, ok, err := w.w.WillWrite(ctx, cfg, after.key)
			if err != nil {
				return nil, fmt.Errorf("%s, which may copy MinIO's default key %q: %w", w.id, after.key, err)
			}
			if ok {
				return checkMaterial(ctx, after.key, k, old, before, fmt.Sprintf("is not on %s yet; %s will copy it there", cfg.Describe(), w.id))
			}
		}
	}
	return nil, fmt.Errorf("%w %q does not exist at %s, and no migrate_keys step before this one copies it there: MinIO would create a new, empty key of that name at startup and seal new objects under a key that is in no backup; migrate the key first, or correct %s",
		ErrDefaultKey, after.key, cfg.Describe(), keyVar(kmsKES))
}

// keystoreWait is how long a KES that cannot reach its keystore is given
// to notice it can again: KES checks at its status ping, every 10 s by
// default, so a Vault unsealed a moment ago still reads as unreachable.
const keystoreWait = 15 * time.Second

// openKES opens a KES and checks it answers, waiting up to keystoreWait
// (within ctx) while it reports its keystore unreachable.
func openKES(ctx context.Context, cfg providers.KeyStoreConfig) (providers.KeyStore, error) {
	deadline := time.Now().Add(keystoreWait)
	for {
		store, err := keyops.Open(ctx, cfg)
		if err == nil || !errors.Is(err, kes.ErrKeyStoreUnreachable) || time.Now().Add(time.Second).After(deadline) {
			return store, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

// compareAtKES compares the default key KES holds with the old key.
func compareAtKES(ctx context.Context, store *kes.Store, cfg providers.KeyStoreConfig, name string, old sealedBy, before minioKMS) ([]steps.Action, error) {
	where := "exists at " + cfg.Describe()
	if old.material != nil {
		same, err := store.SameKey(ctx, name, *old.material)
		switch {
		case errors.Is(err, providers.ErrFormat):
			return nil, fmt.Errorf("%w %q %s, and is the same key as %s, but %w", ErrDefaultKey, name, where, old.describe(before), err)
		case err != nil:
			return nil, fmt.Errorf("compare MinIO's default key %q at %s: %w", name, cfg.Describe(), err)
		case !same:
			return nil, fmt.Errorf("%w %q %s, and it is a DIFFERENT key from %s: MinIO could not read its objects", ErrDefaultKey, name, where, old.describe(before))
		}
		return []steps.Action{{Summary: fmt.Sprintf("MinIO's default key %q %s, and is %s (compared through KES)", name, where, old.describe(before))}}, nil
	}
	if old.kes == nil {
		return []steps.Action{{Summary: fmt.Sprintf("MinIO's default key %q %s; not compared with the key MinIO's objects were sealed with: %s", name, where, old.why)}}, nil
	}
	ok, err := store.DecryptsFrom(ctx, old.kes, name)
	switch {
	case err != nil:
		return nil, fmt.Errorf("compare MinIO's default key %q at %s with %s: %w", name, cfg.Describe(), before.describe(), err)
	case !ok:
		return nil, fmt.Errorf("%w %q %s, but it cannot decrypt a data key %s sealed under that name: it holds another key of that name, or cannot read that KES's ciphertext format; MinIO could not read its objects",
			ErrDefaultKey, name, where, before.describe())
	}
	return []steps.Action{{Summary: fmt.Sprintf("MinIO's default key %q %s, and decrypts what %s seals under it", name, where, before.describe())}}, nil
}
