package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// One Vault dev server for the whole test binary; every store gets a
// prefix of its own.
var (
	vaultOnce   sync.Once
	vaultServer *testenv.VaultServer
	vaultErr    error
	vaultDir    string
	prefixSeq   atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if vaultServer != nil {
		vaultServer.Stop()
	}
	if vaultDir != "" {
		os.RemoveAll(vaultDir)
	}
	os.Exit(code)
}

// sharedVault starts the server on first use, or skips t when bin/vault
// is missing.
func sharedVault(t *testing.T) *testenv.VaultServer {
	t.Helper()
	testenv.Bin(t, "vault")
	vaultOnce.Do(func() {
		vaultDir, vaultErr = os.MkdirTemp("", "cutover-vault-test-")
		if vaultErr == nil {
			vaultServer, vaultErr = testenv.StartVault(vaultDir)
		}
	})
	if vaultErr != nil {
		t.Fatalf("starting vault: %v", vaultErr)
	}
	return vaultServer
}

// uniquePrefix returns a prefix no other test uses.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("t%d-%s", prefixSeq.Add(1), strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
}

// tokenStore opens a store with the root token at a fresh prefix.
func tokenStore(t *testing.T, version string) *Store {
	t.Helper()
	v := sharedVault(t)
	return mustNew(t, &Config{Name: "kms.vault", Endpoint: v.Addr, Engine: "kv" + version[1:],
		Version: version, Prefix: uniquePrefix(t), Token: v.Token})
}

func mustNew(t *testing.T, c *Config) *Store {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyStoreSuiteKVv2(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) providers.KeyStore { return tokenStore(t, V2) },
		keystoretest.Options{Readable: true})
}

func TestKeyStoreSuiteKVv1(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) providers.KeyStore { return tokenStore(t, V1) },
		keystoretest.Options{Readable: true})
}

func TestNotAReplacer(t *testing.T) {
	var s providers.KeyStore = &Store{}
	if _, ok := s.(providers.Replacer); ok {
		t.Fatal("the vault store must not offer Replace (KES reads version 1 only)")
	}
}

// TestLayout checks the entries are where KES looks, in KES's shape.
func TestLayout(t *testing.T) {
	for _, version := range []string{V1, V2} {
		t.Run(version, func(t *testing.T) {
			s := tokenStore(t, version)
			k := keystoretest.NewKey(t)
			if err := s.Create(context.Background(), "my-key", k); err != nil {
				t.Fatal(err)
			}
			raw := vaultServer.Client(t)
			p := path.Join(s.cfg.Engine, s.cfg.Prefix, "my-key")
			if version == V2 {
				p = path.Join(s.cfg.Engine, "data", s.cfg.Prefix, "my-key")
			}
			secret, err := raw.Logical().Read(p)
			if err != nil || secret == nil {
				t.Fatalf("read %s: %v", p, err)
			}
			data := secret.Data
			if version == V2 {
				data = data["data"].(map[string]any)
			}
			if len(data) != 1 {
				t.Fatalf("entry data has %d fields, want just \"my-key\"", len(data))
			}
			got, err := keskey.Decode([]byte(data["my-key"].(string)))
			if err != nil || !bytes.Equal(got.Material, k.Material) {
				t.Fatalf("field my-key does not decode to the key (err %v)", err)
			}
		})
	}
}

// TestCreateV2RefusesOverwriteOfDeletedVersions: an entry whose versions
// are soft-deleted still holds the name.
func TestCreateV2KeepsDeletedName(t *testing.T) {
	s := tokenStore(t, V2)
	ctx := context.Background()
	if err := s.Create(ctx, "soft", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := vaultServer.Client(t).KVv2(s.cfg.Engine).Delete(ctx, path.Join(s.cfg.Prefix, "soft")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "soft", keystoretest.NewKey(t)); !errors.Is(err, providers.ErrKeyExists) {
		t.Fatalf("Create over a soft-deleted entry: err = %v, want ErrKeyExists", err)
	}
	if _, err := s.Get(ctx, "soft"); err == nil || errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Get of a soft-deleted version 1: err = %v, want a plain error", err)
	}
	if err := s.Delete(ctx, "soft"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "soft", keystoretest.NewKey(t)); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
}

// TestGetReadsVersion1: a second version written by another tool is not
// what Get returns, because KES would not use it either.
func TestGetReadsVersion1(t *testing.T) {
	s := tokenStore(t, V2)
	ctx := context.Background()
	first := keystoretest.NewKey(t)
	if err := s.Create(ctx, "versioned", first); err != nil {
		t.Fatal(err)
	}
	writeVersion2(t, s, "versioned")
	got, err := s.Get(ctx, "versioned")
	if err != nil || !bytes.Equal(got.Material, first.Material) {
		t.Fatalf("Get did not return version 1 (err %v)", err)
	}
}

// writeVersion2 writes a second version of name with other material.
func writeVersion2(t *testing.T, s *Store, name string) providers.Key {
	t.Helper()
	k := keystoretest.NewKey(t)
	b, err := keskey.Encode(k, "other-tool", timeNow())
	if err != nil {
		t.Fatal(err)
	}
	_, err = vaultServer.Client(t).KVv2(s.cfg.Engine).Put(context.Background(), path.Join(s.cfg.Prefix, name), map[string]any{name: string(b)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestListSkipsFolders(t *testing.T) {
	for _, version := range []string{V1, V2} {
		t.Run(version, func(t *testing.T) {
			s := tokenStore(t, version)
			ctx := context.Background()
			if err := s.Create(ctx, "top", keystoretest.NewKey(t)); err != nil {
				t.Fatal(err)
			}
			sub := &Config{Name: "kms.sub", Endpoint: s.cfg.Endpoint, Engine: s.cfg.Engine, Version: version,
				Prefix: s.cfg.Prefix + "/folder", Token: s.cfg.Token}
			if err := mustNew(t, sub).Create(ctx, "nested", keystoretest.NewKey(t)); err != nil {
				t.Fatal(err)
			}
			var names []string
			for n, err := range s.List(ctx, "") {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, n)
			}
			if fmt.Sprint(names) != "[top]" {
				t.Fatalf("List = %v, want [top]", names)
			}
		})
	}
}

func TestNamesCannotEscapePrefix(t *testing.T) {
	s := tokenStore(t, V2)
	ctx := context.Background()
	for _, name := range []string{"", ".", "..", "a/b", "../x"} {
		if _, err := s.Get(ctx, name); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Get(%q): %v", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Delete(%q): %v", name, err)
		}
		if err := s.Create(ctx, name, keystoretest.NewKey(t)); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Create(%q): %v", name, err)
		}
	}
}

func TestStatusDetectsWrongVersion(t *testing.T) {
	v := sharedVault(t)
	for _, c := range []struct{ engine, version string }{{"kv1", V2}, {"kv2", V1}} {
		s := mustNew(t, &Config{Name: "kms.v", Endpoint: v.Addr, Engine: c.engine, Version: c.version, Token: v.Token})
		err := s.Status(context.Background())
		if err == nil || !strings.Contains(err.Error(), "not KV") {
			t.Errorf("Status of %s as %s: err = %v, want a version mismatch", c.engine, c.version, err)
		}
	}
}

func TestListOnKVv2AsV1Fails(t *testing.T) {
	v := sharedVault(t)
	ctx := context.Background()
	real := tokenStore(t, V2)
	if err := real.Create(ctx, "k", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	wrong := mustNew(t, &Config{Name: "kms.v", Endpoint: v.Addr, Engine: "kv2", Version: V1, Prefix: real.cfg.Prefix, Token: v.Token})
	if _, err := wrong.Get(ctx, "k"); err == nil {
		t.Error("Get through a v1 store on a KV v2 mount succeeded")
	}
	if err := wrong.Create(ctx, "k2", keystoretest.NewKey(t)); err == nil {
		t.Error("Create through a v1 store on a KV v2 mount succeeded")
	}
}

func TestStatusBadToken(t *testing.T) {
	v := sharedVault(t)
	s := mustNew(t, &Config{Name: "kms.v", Endpoint: v.Addr, Engine: "kv2", Version: V2, Token: "not-a-token"})
	err := s.Status(context.Background())
	if err == nil {
		t.Fatal("Status with a bad token succeeded")
	}
	if strings.Contains(err.Error(), "not-a-token") {
		t.Fatalf("error shows the token: %v", err)
	}
}

func TestStatusUnreachable(t *testing.T) {
	s := mustNew(t, &Config{Name: "kms.v", Endpoint: "http://127.0.0.1:1", Version: V2, Token: "x"})
	if err := s.Status(context.Background()); err == nil {
		t.Fatal("Status of a closed port succeeded")
	}
}

func timeNow() time.Time { return time.Now().UTC() }
