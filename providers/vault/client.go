package vault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"sync"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/cutover/cutover/internal/httpx"
)

// newClient returns a Vault client for c that reads no VAULT_*
// environment variable that matters (address, TLS, token, namespace come
// from the block only). It does not contact the server.
func newClient(c *Config) (*vaultapi.Client, error) {
	tr := httpx.Transport()
	hc := &http.Client{Transport: tr}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	// Keep a connection per concurrent worker: the pooled default of a few
	// idle connections made 16 workers re-dial (and re-handshake) constantly.
	tr.MaxIdleConnsPerHost = 256
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg := &vaultapi.Config{Address: c.Endpoint, HttpClient: hc, Timeout: 60 * time.Second, MaxRetries: 2}
	if err := configureCA(cfg, c.CAFile); err != nil {
		return nil, err
	}
	client, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	client.SetToken(c.Token) // "" with AppRole: login sets it
	client.ClearNamespace()
	if c.Namespace != "" {
		client.SetNamespace(c.Namespace)
	}
	return client, nil
}

// configureCA makes the client trust the PEM file (or directory of PEM
// files) caFile instead of the system roots; "" keeps the system roots.
func configureCA(cfg *vaultapi.Config, caFile string) error {
	if caFile == "" {
		return nil
	}
	fi, err := os.Stat(caFile)
	if err != nil {
		return fmt.Errorf("vault ca_file: %w", err)
	}
	t := &vaultapi.TLSConfig{CACert: caFile}
	if fi.IsDir() {
		t = &vaultapi.TLSConfig{CAPath: caFile}
	}
	if err := cfg.ConfigureTLS(t); err != nil {
		return fmt.Errorf("vault ca_file %s: %w", caFile, err)
	}
	return nil
}

// auth holds the AppRole login state of a store.
type auth struct {
	role *AppRole // nil: a static token, never renewed
	mu   sync.Mutex
	gen  int // incremented by every login
}

// call runs op with a valid token: it logs in with AppRole first if the
// store has no token yet, and when op is refused with 403 (the token
// expired or was revoked) it logs in again, once, and retries op.
func (s *Store) call(ctx context.Context, op func() error) (err error) {
	defer func(start time.Time) { err = s.endpointErr(start, err) }(time.Now())
	gen, err := s.ensureLogin(ctx)
	if err != nil {
		return err
	}
	err = op()
	if s.auth.role == nil || !isStatus(err, http.StatusForbidden) {
		return err
	}
	if err := s.relogin(ctx, gen); err != nil {
		return err
	}
	return op()
}

// ensureLogin logs in if AppRole is configured and no login happened yet;
// it returns the login generation op runs under.
func (s *Store) ensureLogin(ctx context.Context) (int, error) {
	if s.auth.role == nil {
		return 0, nil
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.gen == 0 {
		if err := s.login(ctx); err != nil {
			return 0, err
		}
	}
	return s.auth.gen, nil
}

// relogin logs in again unless another call already did since gen.
func (s *Store) relogin(ctx context.Context, gen int) error {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.gen != gen {
		return nil
	}
	return s.login(ctx)
}

// login exchanges the AppRole ID and secret for a token. The caller holds
// s.auth.mu.
func (s *Store) login(ctx context.Context) error {
	c, err := s.client.CloneWithHeaders() // keeps the namespace, not the token
	if err != nil {
		return err
	}
	c.ClearToken()
	r := s.auth.role
	secret, err := c.Logical().WriteWithContext(ctx, path.Join("auth", r.Engine, "login"),
		map[string]any{"role_id": r.ID, "secret_id": r.Secret})
	if err != nil {
		return fmt.Errorf("%s: vault approle login at auth/%s: %w", s.name, r.Engine, err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return fmt.Errorf("%s: vault approle login at auth/%s: no token in the answer", s.name, r.Engine)
	}
	s.client.SetToken(secret.Auth.ClientToken)
	s.auth.gen++
	return nil
}

// endpointErr makes an error of a call that began at start an
// *httpx.EndpointError when Vault was unreachable, refused the credentials
// or does not offer the operation (httpx.Classify); other errors pass.
func (s *Store) endpointErr(start time.Time, err error) error {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		err = httpx.WithAnswer(re.StatusCode, "", err)
	}
	return httpx.Endpoint("vault "+s.cfg.Endpoint, s.name, "", start, err)
}

// isStatus reports whether err is a Vault answer with that HTTP status.
func isStatus(err error, status int) bool {
	var re *vaultapi.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}
