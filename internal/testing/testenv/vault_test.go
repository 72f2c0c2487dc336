package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVaultKV(t *testing.T) {
	v := Vault(t)
	c, ctx := v.Client(t), context.Background()

	_, err := c.KVv2("kv2").Put(ctx, "app/creds", map[string]any{"user": "alice"})
	must(t, "kv2 put", err)
	s2, err := c.KVv2("kv2").Get(ctx, "app/creds")
	must(t, "kv2 get", err)
	if s2.Data["user"] != "alice" || s2.VersionMetadata == nil || s2.VersionMetadata.Version != 1 {
		t.Errorf("kv2 read back %+v", s2)
	}

	must(t, "kv1 put", c.KVv1("kv1").Put(ctx, "app/creds", map[string]any{"user": "bob"}))
	s1, err := c.KVv1("kv1").Get(ctx, "app/creds")
	must(t, "kv1 get", err)
	if s1.Data["user"] != "bob" {
		t.Errorf("kv1 read back %+v", s1.Data)
	}

	_, err = c.KVv2("secret").Put(ctx, "default", map[string]any{"x": "1"})
	must(t, "secret/ (default KV v2) put", err)
}

func TestVaultAppRole(t *testing.T) {
	v := Vault(t)
	roleID, secretID := v.AppRole(t, "reader", `path "kv1/allowed/*" { capabilities = ["read"] }`)
	root, ctx := v.Client(t), context.Background()
	must(t, "seed", root.KVv1("kv1").Put(ctx, "allowed/x", map[string]any{"v": "ok"}))
	must(t, "seed", root.KVv1("kv1").Put(ctx, "denied/x", map[string]any{"v": "no"}))

	login, err := root.Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	must(t, "approle login", err)
	c := v.Client(t)
	c.SetToken(login.Auth.ClientToken)
	if s, err := c.KVv1("kv1").Get(ctx, "allowed/x"); err != nil || s.Data["v"] != "ok" {
		t.Errorf("read allowed path: %v %v", s, err)
	}
	if _, err := c.KVv1("kv1").Get(ctx, "denied/x"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("read denied path: %v, want permission denied", err)
	}
}

func TestKESVaultKeystore(t *testing.T) {
	v := Vault(t)
	k := KES(t, KESOptions{Vault: v, Prefix: "kes-test"})
	checkKESKeys(t, k)
	s, err := v.Client(t).KVv2(k.Engine).Get(context.Background(), k.Prefix+"/my-key-1")
	must(t, "vault read of the KES key", err)
	if entry, ok := s.Data["my-key-1"].(string); !ok || entry == "" {
		t.Errorf("kv2/%s/my-key-1 holds %v, want KES's key entry", k.Prefix, s.Data)
	} else {
		t.Logf("KES stored kv2/data/%s/my-key-1 as {%q: %.40s...}", k.Prefix, "my-key-1", entry)
	}
	k.Restart(t)
	if _, err := k.DescribeKey("my-key-2"); err != nil {
		t.Errorf("after restart: %v", err)
	}
}

// TestVaultRaft: with VaultOptions.Raft the data is in integrated storage
// on disk, and the server behaves as the in-memory one.
func TestVaultRaft(t *testing.T) {
	Bin(t, "vault")
	v, err := StartVaultWith(t.TempDir(), VaultOptions{Raft: true})
	if v != nil {
		register(t, "vault", v.LogFile, v)
	}
	must(t, "starting vault on raft", err)
	c, ctx := v.Client(t), context.Background()
	_, err = c.KVv2("kv2").Put(ctx, "app/creds", map[string]any{"user": "carol"})
	must(t, "kv2 put", err)
	if s, err := c.KVv2("kv2").Get(ctx, "app/creds"); err != nil || s.Data["user"] != "carol" {
		t.Errorf("kv2 read back %v, %v", s, err)
	}
	cfg, err := c.Logical().Read("sys/storage/raft/configuration")
	must(t, "raft configuration", err)
	if cfg == nil || !strings.Contains(fmt.Sprint(cfg.Data), "node1") {
		t.Errorf("raft configuration = %v, want one node named node1", cfg)
	}
	if _, err := os.Stat(filepath.Join(v.RaftDir, "vault.db")); err != nil {
		t.Errorf("no raft database on disk: %v", err)
	}
}
