package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// vaultReadyTimeout bounds a Vault start (the binary is ~500 MB).
const vaultReadyTimeout = 60 * time.Second

// VaultServer is a running `vault server -dev`: unsealed, with KV v2 at
// secret/ (Vault's default), KV v1 at kv1/, KV v2 at kv2/ and AppRole
// auth at approle/; its data in memory, or on disk (VaultOptions.Raft).
type VaultServer struct {
	Addr    string // http://127.0.0.1:port
	Token   string // root token, random per server
	Dir     string // the server's directory (its HOME)
	LogFile string // its stdout and stderr
	// RaftDir is the integrated storage's directory; "" in memory.
	RaftDir string
	proc    *process
}

// VaultOptions configures StartVaultWith.
type VaultOptions struct {
	// Raft keeps the data in integrated storage (raft, one node) under
	// the server's directory, as production Vaults do: every write is
	// committed to disk with an fsync. The default is the dev server's
	// memory, where a write costs about what a read does.
	Raft bool
}

// Vault starts a Vault dev server for t, stopped at the end of t.
func Vault(t testing.TB) *VaultServer {
	t.Helper()
	Bin(t, "vault")
	v, err := StartVault(t.TempDir())
	if v != nil {
		register(t, "vault", v.LogFile, v)
	}
	must(t, "starting vault", err)
	return v
}

// StartVault starts a Vault dev server keeping its files in dir, waits
// until it is ready and sets up its mounts. On error the server is
// already stopped (a *StartError says why it did not come up; the
// server returned with it, if any, only serves to find its LogFile); on
// success the caller must call Stop.
func StartVault(dir string) (*VaultServer, error) {
	return StartVaultWith(dir, VaultOptions{})
}

// StartVaultWith is StartVault with options.
func StartVaultWith(dir string, opts VaultOptions) (*VaultServer, error) {
	return withRetry(func() (*VaultServer, error) { return startVaultOnce(dir, opts) })
}

// startVaultOnce makes one attempt at StartVaultWith.
func startVaultOnce(dir string, opts VaultOptions) (*VaultServer, error) {
	bin, err := binPath("vault")
	if err != nil {
		return nil, err
	}
	port, err := freePortPair() // the dev server's cluster listener takes port+1
	if err != nil {
		return nil, err
	}
	v := &VaultServer{Addr: "http://127.0.0.1:" + strconv.Itoa(port), Token: "root-" + randomSuffix() + randomSuffix(),
		Dir: dir, LogFile: filepath.Join(dir, "vault.log")}
	args := []string{"server", "-dev", "-dev-root-token-id=" + v.Token, "-dev-listen-address=127.0.0.1:" + strconv.Itoa(port),
		"-dev-no-store-token"}
	if opts.Raft {
		cfg, err := v.raftConfig(port)
		if err != nil {
			return nil, err
		}
		args = append(args, "-config="+cfg)
	}
	v.proc, err = startProcess(v.LogFile, baseEnv(dir), append([]string{bin}, args...)...)
	if err != nil {
		return nil, err
	}
	if err := v.waitAndSetUp(); err != nil {
		v.Stop()
		return v, err
	}
	return v, nil
}

// raftConfig makes a fresh raft directory under v.Dir and writes the
// config file that puts the dev server's storage there (a -config's
// storage replaces the dev server's memory); it returns the file's path.
func (v *VaultServer) raftConfig(port int) (string, error) {
	raft, err := os.MkdirTemp(v.Dir, "raft-")
	if err != nil {
		return "", err
	}
	v.RaftDir = raft
	cfg := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "node1"
}
api_addr      = %q
cluster_addr  = "http://127.0.0.1:%d"
disable_mlock = true
`, raft, v.Addr, port+1)
	path := filepath.Join(raft, "vault.hcl")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// waitAndSetUp waits for the server and mounts kv1, kv2, approle.
func (v *VaultServer) waitAndSetUp() error {
	err := waitReady("vault", v.LogFile, vaultReadyTimeout, v.ready, v.proc.exited)
	if err != nil {
		return err
	}
	if err := v.setUp(); err != nil {
		return newStartError("vault", v.LogFile, "setting up mounts: "+err.Error())
	}
	return nil
}

// ready probes token lookup-self with the root token: only this server
// (unsealed and active) knows that token, so another server that took
// the port cannot pass for it.
func (v *VaultServer) ready() error {
	req, err := http.NewRequest(http.MethodGet, v.Addr+"/v1/auth/token/lookup-self", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", v.Token)
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("token lookup-self: %s", resp.Status)
	}
	return nil
}

// setUp mounts kv1/ (KV v1), kv2/ (KV v2) and approle auth.
func (v *VaultServer) setUp() error {
	c, err := v.NewClient()
	if err != nil {
		return err
	}
	for path, version := range map[string]string{"kv1": "1", "kv2": "2"} {
		in := &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": version}}
		if err := c.Sys().Mount(path, in); err != nil {
			return fmt.Errorf("mounting %s/: %w", path, err)
		}
	}
	if err := c.Sys().EnableAuthWithOptions("approle", &vaultapi.EnableAuthOptions{Type: "approle"}); err != nil {
		return fmt.Errorf("enabling approle: %w", err)
	}
	return waitKVv2(c, "kv2")
}

// waitKVv2 waits until a new KV v2 mount answers: Vault upgrades it in
// the background and rejects requests for a moment after mounting.
func waitKVv2(c *vaultapi.Client, mount string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.Logical().Read(mount + "/config")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/ not usable: %w", mount, err)
		}
		time.Sleep(pollEvery)
	}
}

// NewClient returns a vault/api client for the server, with the root
// token. It ignores VAULT_* variables of the environment.
func (v *VaultServer) NewClient() (*vaultapi.Client, error) {
	cfg := &vaultapi.Config{Address: v.Addr, HttpClient: &http.Client{Timeout: 30 * time.Second}}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(v.Token)
	return c, nil
}

// Client returns NewClient's client, or fails t.
func (v *VaultServer) Client(t testing.TB) *vaultapi.Client {
	t.Helper()
	c, err := v.NewClient()
	must(t, "vault client", err)
	return c
}

// AppRole creates (or replaces) the policy and AppRole role name, whose
// tokens carry only that policy, and returns the role ID and a new
// secret ID for logging in at auth/approle/login. It fails t on error.
func (v *VaultServer) AppRole(t testing.TB, name, policyHCL string) (roleID, secretID string) {
	t.Helper()
	roleID, secretID, err := v.NewAppRole(name, policyHCL)
	must(t, "vault approle "+name, err)
	return roleID, secretID
}

// NewAppRole is AppRole returning an error instead of failing a test.
func (v *VaultServer) NewAppRole(name, policyHCL string) (roleID, secretID string, err error) {
	c, err := v.NewClient()
	if err != nil {
		return "", "", err
	}
	if err := c.Sys().PutPolicy(name, policyHCL); err != nil {
		return "", "", fmt.Errorf("policy %s: %w", name, err)
	}
	role := "auth/approle/role/" + name
	if _, err := c.Logical().Write(role, map[string]any{"token_policies": name}); err != nil {
		return "", "", fmt.Errorf("role %s: %w", name, err)
	}
	if roleID, err = readString(c, role+"/role-id", "role_id", false); err != nil {
		return "", "", err
	}
	secretID, err = readString(c, role+"/secret-id", "secret_id", true)
	return roleID, secretID, err
}

// readString reads (or, with write, writes to) path and returns the
// string field of the response data.
func readString(c *vaultapi.Client, path, field string, write bool) (string, error) {
	var s *vaultapi.Secret
	var err error
	if write {
		s, err = c.Logical().Write(path, nil)
	} else {
		s, err = c.Logical().Read(path)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if s == nil {
		return "", errors.New(path + ": empty response")
	}
	v, ok := s.Data[field].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("%s: no %s in response", path, field)
	}
	return v, nil
}

// Stop stops the server; it is idempotent.
func (v *VaultServer) Stop() {
	if v.proc != nil {
		v.proc.Stop()
	}
}
