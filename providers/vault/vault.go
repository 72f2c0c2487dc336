// Package vault is the `vault` key store: keys kept in a HashiCorp Vault KV
// secrets engine exactly as KES v0.24.0's vault keystore keeps them, so a KES
// server configured with the same endpoint, engine, version and prefix uses
// the keys cutover writes, and cutover reads the keys KES wrote.
//
//	kms "vault" {
//	  type      = "vault"
//	  endpoint  = "https://vault.internal:8200"
//	  engine    = "kv"        # the KV mount (KES's default "kv")
//	  version   = "v2"        # "v1" (KES's default) or "v2"
//	  prefix    = "kes"       # optional path inside the mount
//	  namespace = "ops"       # optional, Vault Enterprise
//	  ca_file   = "vault-ca.pem"  # optional PEM file or directory
//	  token     = var.vault_token  # either a token ...
//	  approle {                    # ... or an AppRole login
//	    engine = "approle"         # optional auth mount (default "approle")
//	    id     = var.role_id
//	    secret = var.secret_id
//	  }
//	}
//
// # Layout (KES v0.24.0 internal/keystore/vault)
//
// A key is one KV entry whose data is {"<name>": "<value>"}: the field is
// the key's own name and the value is the keskey encoding as a JSON string.
// KV v1 keeps it at <engine>/<prefix>/<name>; KV v2 at
// <engine>/data/<prefix>/<name>, with its metadata (used to list and
// delete) at <engine>/metadata/<prefix>/<name>.
//
// # Semantics
//
//   - Get on KV v2 reads version 1 of the entry, because that is the only
//     version KES v0.24.0 ever reads (GetVersion(..., 1)). A later version
//     written by any tool is invisible to KES, and to Get.
//   - Create on KV v2 writes with check-and-set cas=0: of two concurrent
//     Creates (from any process) exactly one succeeds, the other gets
//     providers.ErrKeyExists. An entry whose versions were deleted but whose
//     metadata remains also counts as existing (KES cannot create it either).
//   - Create on KV v1 is best effort, as in KES: read, then write if absent.
//     Creates through one Store are serialised, but a writer in another
//     process between the read and the write is overwritten without notice.
//   - The store is not a providers.Replacer, so on_conflict = "overwrite" is
//     refused. KV v1 has no atomic compare-and-write at all; on KV v2 a
//     check-and-set write would be atomic but creates version 2, which KES
//     never reads: KES would silently keep using the old key.
//   - Delete on KV v2 deletes the metadata and every version, as KES does, so
//     the name can be created again; on KV v1 it deletes the entry. Delete
//     reads first, to return providers.ErrKeyNotFound for an absent key.
//   - List LISTs the prefix (Vault answers with every name at once; there are
//     no pages) and yields the names one by one, skipping sub-folders.
//   - Status checks sys/health (initialized, unsealed), then with the
//     store's credentials auth/token/lookup-self (the default policy allows
//     it) and, where Vault answers sys/internal/ui/mounts/<engine>, that the
//     mount is a KV engine of the configured version: a v1 store on a v2
//     mount (or the reverse) would otherwise list nothing.
//   - With AppRole the store logs in on first use, and again, once, when a
//     request is refused with 403 (expired or revoked token).
//
// Errors wrap providers.ErrKeyNotFound and ErrKeyExists, keskey.ErrInvalid
// for values that are not KES keys and keskey.ErrInvalidName for names;
// Vault's answers are *api.ResponseError. No error contains a token or key
// material.
package vault

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// KV engine versions.
const (
	V1 = "v1"
	V2 = "v2"
)

// transitPrefix starts values KES encrypted with Vault's transit engine,
// which cutover does not support.
const transitPrefix = "vault:v1:"

// Store is a KES-layout key store in a Vault KV engine. It is safe for
// concurrent use.
type Store struct {
	name      string
	cfg       Config
	client    *vaultapi.Client
	auth      auth
	createMu  sync.Mutex // serialises KV v1 Creates
	createdBy string
}

var _ providers.KeyStore = (*Store)(nil)

// New returns the store for c without contacting Vault (an AppRole login
// happens on first use). It fails if c is invalid or its CA file unreadable.
func New(c *Config) (*Store, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	client, err := newClient(c)
	if err != nil {
		return nil, err
	}
	s := &Store{name: c.Name, cfg: *c, client: client, createdBy: keskey.DefaultCreatedBy}
	s.cfg.Engine = defaultString(c.Engine, DefaultEngine)
	s.auth.role = c.AppRole
	return s, nil
}

// Name returns the plan's name for the store.
func (s *Store) Name() string { return s.name }

// Status checks Vault is initialized and unsealed, then that the
// credentials are valid (logging in with AppRole).
func (s *Store) Status(ctx context.Context) error {
	if err := s.health(ctx); err != nil {
		return err
	}
	err := s.call(ctx, func() error {
		_, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: vault token: %w", s.name, err)
	}
	return s.checkMount(ctx)
}

// checkMount compares the engine's KV version with the configured one,
// through sys/internal/ui/mounts/<engine> (what the vault CLI asks; any
// token with a capability on the mount may read it). When Vault does not
// answer it, nothing is checked.
func (s *Store) checkMount(ctx context.Context) error {
	var secret *vaultapi.Secret
	err := s.call(ctx, func() (err error) {
		secret, err = s.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+s.cfg.Engine)
		return err
	})
	if err != nil || secret == nil {
		return nil
	}
	typ, _ := secret.Data["type"].(string)
	opts, _ := secret.Data["options"].(map[string]any)
	version, _ := opts["version"].(string)
	if version == "" {
		version = "1"
	}
	if (typ != "kv" && typ != "generic") || "v"+version != s.cfg.Version {
		return fmt.Errorf("%s: vault mount %s/ is %s version %s, not KV %s", s.name, s.cfg.Engine, typ, version, s.cfg.Version)
	}
	return nil
}

// health reads sys/health without the namespace header (a root-only path).
func (s *Store) health(ctx context.Context) error {
	c, err := s.client.CloneWithHeaders()
	if err != nil {
		return err
	}
	c.ClearNamespace()
	start := time.Now()
	h, err := c.Sys().HealthWithContext(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%s: vault health: %w", s.name, s.endpointErr(start, err))
	case !h.Initialized:
		return fmt.Errorf("%s: vault at %s is not initialized", s.name, s.cfg.Endpoint)
	case h.Sealed:
		return fmt.Errorf("%s: vault at %s is sealed", s.name, s.cfg.Endpoint)
	}
	return nil
}

// List yields every key name under the prefix matching pattern.
func (s *Store) List(ctx context.Context, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		match, err := keskey.Matcher(pattern)
		if err != nil {
			yield("", err)
			return
		}
		keys, err := s.listAll(ctx)
		if err != nil {
			yield("", err)
			return
		}
		for _, v := range keys {
			name, ok := v.(string)
			if ok && !strings.HasSuffix(name, "/") && match(name) && !yield(name, nil) {
				return
			}
		}
	}
}

// listAll LISTs the prefix and returns Vault's "keys" array.
func (s *Store) listAll(ctx context.Context) ([]any, error) {
	var secret *vaultapi.Secret
	err := s.call(ctx, func() (err error) {
		secret, err = s.client.Logical().ListWithContext(ctx, s.listPath())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: vault list %s: %w", s.name, s.listPath(), err)
	}
	if secret != nil && secret.Data == nil && len(secret.Warnings) > 0 {
		return nil, fmt.Errorf("%s: vault list %s: %s (is version right?)", s.name, s.listPath(), strings.Join(secret.Warnings, "; "))
	}
	if secret == nil || secret.Data == nil {
		return nil, nil // nothing under the prefix
	}
	keys, ok := secret.Data["keys"].([]any)
	if !ok && secret.Data["keys"] != nil {
		return nil, fmt.Errorf("%s: vault list %s: answer without a keys array", s.name, s.listPath())
	}
	return keys, nil
}

// Get reads and decodes the key (version 1 on KV v2, as KES does).
func (s *Store) Get(ctx context.Context, name string) (providers.Key, error) {
	value, err := s.value(ctx, name)
	if err != nil {
		return providers.Key{}, err
	}
	k, err := keskey.Decode([]byte(value))
	if err != nil {
		return providers.Key{}, s.keyErr(name, err)
	}
	return k, nil
}

// value returns the entry's "<name>" field.
func (s *Store) value(ctx context.Context, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", s.keyErr(name, err)
	}
	data, err := s.read(ctx, name)
	if err != nil {
		return "", err
	}
	v, ok := data[name].(string)
	switch {
	case !ok:
		return "", s.keyErr(name, fmt.Errorf("%w: the entry has no string field %q", keskey.ErrInvalid, name))
	case strings.HasPrefix(v, transitPrefix):
		return "", s.keyErr(name, fmt.Errorf("%w: the key is encrypted with Vault transit, which cutover does not support", providers.ErrUnsupported))
	}
	return v, nil
}

// read returns the entry's data: ErrKeyNotFound if there is no entry, an
// error if KV v2's version 1 was deleted or destroyed.
func (s *Store) read(ctx context.Context, name string) (map[string]any, error) {
	var secret *vaultapi.Secret
	err := s.call(ctx, func() (err error) {
		secret, err = s.readEntry(ctx, name)
		return err
	})
	if err != nil {
		return nil, s.keyErr(name, err)
	}
	if secret == nil {
		return nil, s.keyErr(name, providers.ErrKeyNotFound)
	}
	if s.cfg.Version == V1 {
		return v1Data(secret)
	}
	data, _ := secret.Data["data"].(map[string]any)
	if data == nil {
		return nil, s.keyErr(name, errors.New("version 1 of the entry is deleted or destroyed; KES cannot read it"))
	}
	return data, nil
}

// v1Data returns a KV v1 entry's data. An answer with warnings and no data
// is what a KV v2 mount says to a KV v1 read.
func v1Data(secret *vaultapi.Secret) (map[string]any, error) {
	if secret.Data == nil {
		return nil, fmt.Errorf("no data in Vault's answer (%s): is the engine KV v2?", strings.Join(secret.Warnings, "; "))
	}
	return secret.Data, nil
}

// readEntry reads the entry (v1) or its version 1 (v2).
func (s *Store) readEntry(ctx context.Context, name string) (*vaultapi.Secret, error) {
	if s.cfg.Version == V1 {
		return s.client.Logical().ReadWithContext(ctx, s.dataPath(name))
	}
	return s.client.Logical().ReadWithDataWithContext(ctx, s.dataPath(name), map[string][]string{"version": {"1"}})
}

// Create writes a new key; ErrKeyExists if the name is taken (see the
// package doc for KV v1's race).
func (s *Store) Create(ctx context.Context, name string, k providers.Key) error {
	if err := keskey.ValidName(name); err != nil {
		return s.keyErr(name, err)
	}
	b, err := keskey.Encode(k, s.createdBy, time.Now().UTC())
	if err != nil {
		return s.keyErr(name, err)
	}
	if s.cfg.Version == V1 {
		return s.createV1(ctx, name, string(b))
	}
	return s.createV2(ctx, name, string(b))
}

// createV1 reads, then writes if absent.
func (s *Store) createV1(ctx context.Context, name, value string) error {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	switch _, err := s.read(ctx, name); {
	case err == nil:
		return s.keyErr(name, providers.ErrKeyExists)
	case !errors.Is(err, providers.ErrKeyNotFound):
		return err
	}
	return s.write(ctx, name, map[string]any{name: value})
}

// createV2 writes with cas=0. A check-and-set refusal is ErrKeyExists,
// unless version 1 holds exactly this value: then it is this Create's own
// write, retried by the client after a lost answer.
func (s *Store) createV2(ctx context.Context, name, value string) error {
	body := map[string]any{"options": map[string]any{"cas": 0}, "data": map[string]any{name: value}}
	err := s.write(ctx, name, body)
	if err == nil || !isCASFailure(err) {
		return err
	}
	if v, rerr := s.value(ctx, name); rerr == nil && v == value {
		return nil
	}
	return s.keyErr(name, providers.ErrKeyExists)
}

// write writes the entry's data path.
func (s *Store) write(ctx context.Context, name string, body map[string]any) error {
	err := s.call(ctx, func() error {
		_, err := s.client.Logical().WriteWithContext(ctx, s.dataPath(name), body)
		return err
	})
	if err != nil {
		return s.keyErr(name, err)
	}
	return nil
}

// isCASFailure reports whether Vault refused a KV v2 write because the
// entry exists (check-and-set mismatch).
func isCASFailure(err error) bool {
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "check-and-set") {
			return true
		}
	}
	return false
}

// Delete removes the key (on KV v2 every version and the metadata);
// ErrKeyNotFound if absent.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return s.keyErr(name, err)
	}
	if err := s.exists(ctx, name); err != nil {
		return err
	}
	err := s.call(ctx, func() error {
		_, err := s.client.Logical().DeleteWithContext(ctx, s.deletePath(name))
		return err
	})
	if err != nil {
		return s.keyErr(name, err)
	}
	return nil
}

// exists returns nil if the entry (v1) or its metadata (v2) exists,
// ErrKeyNotFound if not.
func (s *Store) exists(ctx context.Context, name string) error {
	var secret *vaultapi.Secret
	err := s.call(ctx, func() (err error) {
		secret, err = s.client.Logical().ReadWithContext(ctx, s.deletePath(name))
		return err
	})
	switch {
	case err != nil:
		return s.keyErr(name, err)
	case secret == nil:
		return s.keyErr(name, providers.ErrKeyNotFound)
	}
	return nil
}

// dataPath is where the entry's data is written and read.
func (s *Store) dataPath(name string) string {
	if s.cfg.Version == V1 {
		return path.Join(s.cfg.Engine, s.cfg.Prefix, name)
	}
	return path.Join(s.cfg.Engine, "data", s.cfg.Prefix, name)
}

// deletePath is what Delete removes: the entry (v1) or its metadata (v2).
func (s *Store) deletePath(name string) string {
	if s.cfg.Version == V1 {
		return s.dataPath(name)
	}
	return path.Join(s.cfg.Engine, "metadata", s.cfg.Prefix, name)
}

// listPath is the folder List LISTs.
func (s *Store) listPath() string {
	if s.cfg.Version == V1 {
		return path.Join(s.cfg.Engine, s.cfg.Prefix)
	}
	return path.Join(s.cfg.Engine, "metadata", s.cfg.Prefix)
}

// checkName refuses names that would address another path: empty, ".",
// "..", or containing '/'.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("%w %q: a Vault key name cannot be empty, . or .., or contain /", keskey.ErrInvalidName, name)
	}
	return nil
}

// keyErr adds the store and key name to err.
func (s *Store) keyErr(name string, err error) error {
	return fmt.Errorf("%s: key %q: %w", s.name, name, err)
}

// defaultString returns s, or def if s is empty.
func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
