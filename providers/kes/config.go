// Package kes is the key store of a KES server (v0.24.0 API), declared in a
// plan as
//
//	kms "kes" {
//	  type     = "kes"
//	  endpoint = "https://127.0.0.1:7373"
//	  api_key  = var.kes_api_key   # or cert_file + key_file
//	  ca_file  = "kes.crt"         # optional: the system roots otherwise
//	  enclave  = ""                # optional; see Config.Enclave
//	  keystore = kms.vault         # optional: the store KES keeps its keys in
//	}
//
// The store talks to KES's HTTP API over mutual TLS:
//
//	PUT    /v1/key/import/<name>    {"key": <base64>, "cipher": "AES256"}   Create
//	GET    /v1/key/describe/<name>                                          Get, Describe
//	GET    /v1/key/list/<prefix>    {"names": [...], "continue_at": "..."}  List
//	DELETE /v1/key/delete/<name>                                            Delete
//	PUT    /v1/key/decrypt/<name>   {"ciphertext": ..., "context": ...}     SameKey, Prove
//	PUT    /v1/key/generate/<name>  {"context": ...}                        Prove
//	GET    /v1/status                                                       Status
//
// The identity must be KES's admin or have a policy allowing these paths
// (MinIO's usual policy, create/generate/decrypt, is enough for SameKey
// and Prove, not for Create, Get, List or Delete).
//
// KES never reveals key material, so Get returns providers.ErrNotReadable
// for a key that exists. Verification uses SameKey instead
// (providers.Comparer): cutover seals a random plaintext with the material
// it copied, in KES's own ciphertext format (keskey.Seal), and KES must
// decrypt it under the key's name — which it can only if it holds exactly
// that key. KES answers a ciphertext its key cannot open with 400
// "decryption failed: ciphertext is not authentic": a different key. Prove
// (a generate/decrypt round trip) only shows a key of that name works.
//
// KES cannot replace a key atomically (an import of an existing name fails;
// replacing means delete then import, and the key is absent in between), so
// Store is not a providers.Replacer and plans cannot use on_conflict =
// "overwrite" with a KES target.
//
// Server errors map onto the providers errors: 404 on a key route is
// ErrKeyNotFound, 400 "key already exists" is ErrKeyExists, 400
// "decryption failed: ciphertext is not authentic" is ErrProof; every other
// failure is an *APIError carrying the status and KES's message.
package kes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// Type is the `type` of a kms block served by this package.
const Type = "kes"

// requestTimeout bounds one API call when the caller's context does not.
const requestTimeout = 60 * time.Second

// Config is what a `kms "<name>" { type = "kes" ... }` block decodes to.
// It is a providers.KeyStoreConfig. Secret fields are never printed.
type Config struct {
	// Name is the plan's name for the store ("kms.kes").
	Name string
	// Endpoint is the server's base URL, https://host:port.
	Endpoint string
	// APIKey ("kes:v1:...") authenticates the client; secret. Exactly one
	// of APIKey and CertFile+KeyFile is set.
	APIKey string
	// CertFile and KeyFile are a PEM client certificate and its key, the
	// alternative to APIKey (MinIO's MINIO_KMS_KES_CERT_FILE/_KEY_FILE).
	CertFile, KeyFile string
	// CAFile is a PEM file of the CAs that may sign the server's
	// certificate; empty means the system roots.
	CAFile string
	// Enclave, when set, is sent in the Kes-Enclave header the KES SDK uses
	// for multi-tenant servers. KES v0.24.0 has no enclaves and ignores the
	// header: keys then live in the server's one keystore.
	Enclave string
	// Keystore, when set, is the store this KES keeps its keys in (its
	// keystore.fs / keystore.vault ... in KES's layout): a key a migration
	// writes there is a key this KES serves (providers.Backed).
	Keystore providers.KeyStoreConfig
}

// Backing is the store behind this KES, or nil when the plan does not say.
func (c *Config) Backing() providers.KeyStoreConfig { return c.Keystore }

// Describe is a one-line, secret-free description of the store.
func (c *Config) Describe() string {
	s := "kes at " + c.Endpoint
	if c.Enclave != "" {
		s += " (enclave " + c.Enclave + ")"
	}
	return s
}

// Open returns the store. It reads the CA and certificate files and
// derives the client certificate, but contacts nothing: call Status to
// check the server answers.
func (c *Config) Open(ctx context.Context) (providers.KeyStore, error) {
	return New(*c)
}

// New is Open with the concrete type, for callers that need Store's
// methods beyond providers.KeyStore.
func New(c Config) (*Store, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	tr := httpx.Transport()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConnsPerHost = 32
	base, _ := url.Parse(c.Endpoint)
	return &Store{name: c.Name, base: base, enclave: c.Enclave,
		client: &http.Client{Transport: tr, Timeout: requestTimeout}}, nil
}

// check validates the fields Decode validates, for configs built in code.
func (c *Config) check() error {
	if _, err := parseEndpoint(c.Endpoint); err != nil {
		return err
	}
	if (c.APIKey == "") == (c.CertFile == "" || c.KeyFile == "") {
		return errors.New("kes: set either an API key or a client certificate and key file")
	}
	if c.Enclave != "" {
		if err := keskey.ValidName(c.Enclave); err != nil {
			return fmt.Errorf("kes: enclave: %w", err)
		}
	}
	return nil
}

// parseEndpoint checks that s is an https URL naming a host.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("kes endpoint %q is not a URL", s)
	case u.Scheme != "https":
		return nil, fmt.Errorf("kes endpoint %q must start with https:// (KES only speaks TLS)", s)
	case u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("kes endpoint %q must be https://host[:port] with no query, fragment or user", s)
	}
	return u, nil
}

// tlsConfig builds the mutual TLS configuration.
func (c *Config) tlsConfig() (*tls.Config, error) {
	cert, err := c.clientCertificate()
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.CAFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("kes: read CA file: %w", err)
	}
	conf.RootCAs = x509.NewCertPool()
	if !conf.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("kes: CA file %s holds no PEM certificate", c.CAFile)
	}
	return conf, nil
}

// clientCertificate derives the certificate from the API key, or loads
// the certificate files.
func (c *Config) clientCertificate() (tls.Certificate, error) {
	if c.APIKey == "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return cert, fmt.Errorf("kes: client certificate: %w", err)
		}
		return cert, nil
	}
	key, err := kesauth.Parse(c.APIKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("kes: %w", err)
	}
	return key.Certificate()
}
