package testenv

import (
	"github.com/cutover/cutover/internal/kesauth"

	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kesReadyTimeout bounds a KES start.
const kesReadyTimeout = 30 * time.Second

// KES versions a test can start (KESOptions.Version).
const (
	// KESv024 is KES v0.24.0, bin/kes: the default.
	KESv024 = "v0.24"
	// KESv023 is KES v0.23.0, bin/kes-v0.23: it cannot read the
	// ciphertexts KES v0.24.0 seals (a test of an outdated target).
	KESv023 = "v0.23"
)

// KESOptions chooses a KES server's version and keystore.
type KESOptions struct {
	// Version is KESv024 (the default, also when empty) or KESv023.
	Version string
	// Vault, if set, selects the vault keystore: keys are stored in KV v2
	// on that server, at Engine (default "kv2") under Prefix (default
	// "kes"), and KES logs in with a new AppRole whose policy covers just
	// that path. If nil, the fs keystore is used.
	Vault  *VaultServer
	Engine string
	Prefix string
	// KeystoreDir is the fs keystore's directory (default <dir>/keys).
	KeystoreDir string
}

// KESServer is a running KES server (v0.24.0 unless asked otherwise)
// with TLS and an admin API key.
type KESServer struct {
	Version     string // KESv024 or KESv023
	Endpoint    string // https://127.0.0.1:port
	APIKey      string // admin API key, "kes:v1:..." (MINIO_KMS_KES_API_KEY)
	Identity    string // admin identity derived from APIKey
	CAFile      string // PEM CA that signed the server certificate (MINIO_KMS_KES_CAPATH)
	KeystoreDir string // fs keystore directory; "" with the vault keystore
	Engine      string // vault keystore: KV v2 mount; "" with fs
	Prefix      string // vault keystore: path prefix in the mount; "" with fs
	Dir         string // the server's directory
	ConfigFile  string // its YAML config
	LogFile     string // its stdout and stderr
	key         *kesauth.APIKey
	tls         *serverTLS
	vault       *vaultLogin  // vault keystore credentials; nil with fs
	client      *http.Client // HTTPClient
	probe       *http.Client // same, with a short timeout
	addr        string
	proc        *process
}

// vaultLogin is where and how KES logs in to Vault.
type vaultLogin struct {
	addr, roleID, secretID string
}

// KES starts a KES server for t, stopped at the end of t.
func KES(t testing.TB, opts KESOptions) *KESServer {
	t.Helper()
	Bin(t, kesBinary(opts.Version))
	k, err := StartKES(t.TempDir(), opts)
	if k != nil {
		register(t, "kes", k.LogFile, k)
	}
	must(t, "starting kes", err)
	return k
}

// StartKES starts a KES server keeping its files in dir and waits until
// it is ready. On error the server is stopped (a *StartError says why
// it did not come up; the server returned with it, if any, only serves
// to find its LogFile); on success the caller must call Stop.
func StartKES(dir string, opts KESOptions) (*KESServer, error) {
	k, err := newKES(dir, opts)
	if err != nil {
		return nil, err
	}
	return withRetry(func() (*KESServer, error) { return k, k.startOnce() })
}

// newKES generates the key, certificates and keystore settings.
func newKES(dir string, opts KESOptions) (*KESServer, error) {
	if v := opts.Version; v != "" && v != KESv024 && v != KESv023 {
		return nil, fmt.Errorf("testenv: unknown KES version %q (use KESv024 or KESv023)", v)
	}
	key, err := kesauth.Generate()
	if err != nil {
		return nil, err
	}
	st, err := writeServerTLS(dir)
	if err != nil {
		return nil, err
	}
	client, err := newKESClient(key, st, 30*time.Second)
	if err != nil {
		return nil, err
	}
	probe, _ := newKESClient(key, st, probeClient.Timeout)
	k := &KESServer{Version: defaultString(opts.Version, KESv024), APIKey: key.Text(), Identity: key.Identity(), CAFile: st.CAFile, Dir: dir,
		ConfigFile: filepath.Join(dir, "kes.yml"), LogFile: filepath.Join(dir, "kes.log"),
		key: key, tls: st, client: client, probe: probe}
	if opts.Vault == nil {
		k.KeystoreDir = opts.KeystoreDir
		if k.KeystoreDir == "" {
			k.KeystoreDir = filepath.Join(dir, "keys")
		}
		return k, nil
	}
	k.Engine, k.Prefix = defaultString(opts.Engine, "kv2"), defaultString(opts.Prefix, "kes")
	roleID, secretID, err := opts.Vault.NewAppRole("kes-"+randomSuffix(), kesVaultPolicy(k.Engine, k.Prefix))
	if err != nil {
		return nil, fmt.Errorf("kes approle: %w", err)
	}
	k.vault = &vaultLogin{addr: opts.Vault.Addr, roleID: roleID, secretID: secretID}
	return k, nil
}

// kesVaultPolicy is the Vault policy KES needs on a KV v2 prefix: read
// and write key entries under data/, list and delete under metadata/.
func kesVaultPolicy(engine, prefix string) string {
	return fmt.Sprintf(`path "%[1]s/data/%[2]s/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "%[1]s/metadata/%[2]s/*" {
  capabilities = ["list", "read", "delete"]
}
path "%[1]s/metadata/%[2]s" {
  capabilities = ["list"]
}
`, engine, prefix)
}

// startOnce picks a port, writes the config and starts the server.
func (k *KESServer) startOnce() error {
	port, err := pickPort()
	if err != nil {
		return err
	}
	k.addr = "127.0.0.1:" + strconv.Itoa(port)
	k.Endpoint = "https://" + k.addr
	if err := k.writeConfig(); err != nil {
		return err
	}
	return k.launch()
}

// launch starts the process on the configured address and waits.
func (k *KESServer) launch() error {
	bin, err := binPath(kesBinary(k.Version))
	if err != nil {
		return err
	}
	k.proc, err = startProcess(k.LogFile, baseEnv(k.Dir), bin, "server", "--config", k.ConfigFile)
	if err != nil {
		return err
	}
	if err := waitReady("kes", k.LogFile, kesReadyTimeout, k.ready, k.proc.exited); err != nil {
		k.Stop()
		return err
	}
	return nil
}

// kesBinary is the bin/ name of a KES version.
func kesBinary(version string) string {
	if version == KESv023 {
		return "kes-v0.23"
	}
	return "kes"
}

// ready probes GET /v1/ready as the admin, over TLS verified with our
// CA, so another server that took the port cannot pass for this one.
func (k *KESServer) ready() error {
	resp, err := k.probe.Get(k.Endpoint + "/v1/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/v1/ready: %s", resp.Status)
	}
	return nil
}

// Stop stops the server; it is idempotent until the next Restart.
func (k *KESServer) Stop() {
	if k.proc != nil {
		k.proc.Stop()
	}
}

// Restart stops the server and starts it again with the same address,
// config and keystore, failing t if it does not come back.
func (k *KESServer) Restart(t testing.TB) {
	t.Helper()
	k.Stop()
	must(t, "restarting kes", k.launch())
}

// MinIOEnv returns the env-file lines that point MinIO at this KES
// server with the admin API key, using keyName as MinIO's default key.
func (k *KESServer) MinIOEnv(keyName string) []string {
	return []string{
		"MINIO_KMS_KES_ENDPOINT=" + k.Endpoint,
		"MINIO_KMS_KES_KEY_NAME=" + keyName,
		"MINIO_KMS_KES_API_KEY=" + k.APIKey,
		"MINIO_KMS_KES_CAPATH=" + k.CAFile,
	}
}

// HTTPClient returns a client that trusts the server's CA and presents
// the admin API key's client certificate.
func (k *KESServer) HTTPClient() *http.Client { return k.client }

// newKESClient builds HTTPClient's client.
func newKESClient(key *kesauth.APIKey, st *serverTLS, timeout time.Duration) (*http.Client, error) {
	cert, err := key.Certificate()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: st.Pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// defaultString returns s, or def if s is empty.
func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// randomSuffix returns 8 random hex digits.
func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeFile writes content to path, readable by its owner only.
func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

// yamlQuote quotes s for YAML.
func yamlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
