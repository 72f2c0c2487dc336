// Package minio is the `minio` system block: a MinIO deployment that steps
// drain, probe and read through its admin API (madmin-go) and its S3 API
// (minio-go). A plan declares it as
//
//	minio "prod" {
//	  endpoint   = "http://127.0.0.1:9000"     # http:// or https://, no path
//	  access_key = env("MINIO_ROOT_USER")
//	  secret_key = env("MINIO_ROOT_PASSWORD")  # always treated as a secret
//	  ca_file    = ""                          # PEM CAs for https; the system roots when empty
//	  region     = ""                          # the S3 region; skips a bucket-location lookup when set
//	}
//
// The block decodes to a *Config, which contacts nothing until an
// operation is called; clients are then opened once and shared, so a
// Config is safe for concurrent use.
//
// What the operations prove, and what they do not:
//
//   - Freeze / Unfreeze stop and restart S3 traffic (madmin ServiceFreezeV2
//     and ServiceUnfreezeV2). A frozen MinIO does not refuse S3 requests: it
//     holds each new one until the unfreeze, or until the client gives up.
//     Requests already being served when the freeze lands run to the end.
//     Freezes nest (MinIO counts them; each needs its unfreeze) and live in
//     the server's memory only: a restart of MinIO thaws it.
//   - Ready is /minio/health/ready, which asks the KMS for a data key;
//     /minio/health/live does not touch the KMS and proves nothing about keys.
//   - KeyStatus asks MinIO to generate and decrypt a fresh data key under a
//     key name. It proves the KMS holds a usable key of that name now; it
//     does NOT prove that objects written earlier decrypt: a KMS that created
//     a new key of the same name passes it. Only reading objects (the
//     validate_objects step) proves that.
package minio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/minio/madmin-go/v3"
	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config is what a `minio "<name>" { ... }` block decodes to. The secret
// key never appears in Describe, errors or logs. Use it through a pointer:
// it holds the clients it opens.
type Config struct {
	// Name is the plan's name for the deployment ("minio.prod").
	Name string
	// Endpoint is the S3 and admin API base URL, http(s)://host[:port].
	Endpoint string
	// AccessKey and SecretKey are the credentials of an admin user (the
	// root user, or one allowed admin:ServiceFreeze, admin:ServerInfo,
	// kms:* and s3:ListBucket, s3:GetObject). SecretKey is a secret.
	AccessKey, SecretKey string
	// CAFile is a PEM file of the CAs that may sign the server's
	// certificate; empty means the system roots.
	CAFile string
	// Region is the S3 region; empty lets minio-go look it up.
	Region string

	mu    sync.Mutex
	conns *conns
}

// conns are the clients a Config opens on first use.
type conns struct {
	base  *url.URL
	tr    *http.Transport
	http  *http.Client // plain HTTP (health probes), same TLS settings
	admin *madmin.AdminClient
	s3    *miniogo.Client // opened by S3
}

// s3MaxRetries bounds minio-go's retries of one S3 request: a transient
// network error is retried, a KMS failure is not worth ten attempts.
const s3MaxRetries = 2

// probeTimeout bounds one health or freeze probe.
const probeTimeout = 10 * time.Second

// Describe is a one-line, secret-free description of the deployment.
func (c *Config) Describe() string {
	name := c.Name
	if name == "" {
		name = "minio"
	}
	return name + " at " + c.Endpoint
}

// ParseEndpoint checks that s is an http or https URL naming a host, with
// no path, query, fragment or user, and returns it.
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("minio endpoint %q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("minio endpoint %q must start with http:// or https://", s)
	case u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("minio endpoint %q must be http(s)://host[:port] with no path, query, fragment or user", s)
	}
	return u, nil
}

// clients opens the clients once; a failure is returned every time until a
// call succeeds (a CA file fixed meanwhile is picked up).
func (c *Config) clients() (*conns, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns != nil {
		return c.conns, nil
	}
	cs, err := c.open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Describe(), err)
	}
	c.conns = cs
	return cs, nil
}

// open builds the transport, the HTTP and the admin clients; S3 opens the
// S3 client, which needs the region.
func (c *Config) open() (*conns, error) {
	base, err := ParseEndpoint(c.Endpoint)
	if err != nil {
		return nil, err
	}
	tr, err := c.transport()
	if err != nil {
		return nil, err
	}
	if err := c.checkCertificate(base, tr); err != nil {
		return nil, err
	}
	creds := credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")
	admin, err := madmin.NewWithOptions(base.Host, &madmin.Options{Creds: creds, Secure: base.Scheme == "https", Transport: tr})
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	admin.SetAppInfo("cutover", "1")
	return &conns{base: base, tr: tr, http: &http.Client{Transport: tr, Timeout: probeTimeout}, admin: admin}, nil
}

// handshakeTimeout bounds checkCertificate's TLS handshake.
const handshakeTimeout = 5 * time.Second

// checkCertificate makes one TLS handshake with an https endpoint and
// fails if the server's certificate is not trusted (madmin-go would
// retry such a call for about a minute and a half before reporting it).
// Any other outcome, a server that is down included, is left to the
// operations to report.
func (c *Config) checkCertificate(base *url.URL, tr *http.Transport) error {
	if base.Scheme != "https" {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.TLSClientConfig != nil {
		cfg = tr.TLSClientConfig.Clone()
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: handshakeTimeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", base.Host)
	if err == nil {
		return conn.Close()
	}
	if isCertificateError(err) {
		return c.untrusted(err)
	}
	return nil
}

// isCertificateError reports whether err is a refusal of the server's
// TLS certificate.
func isCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	return errors.As(err, &cv)
}

// untrusted is the error for a refused certificate, with what to do.
func (c *Config) untrusted(err error) error {
	hint := "set ca_file to the PEM CA that signed MinIO's certificate"
	if c.CAFile != "" {
		hint = "ca_file " + c.CAFile + " did not sign MinIO's certificate: point it at the CA that did"
	}
	return fmt.Errorf("TLS certificate not trusted: %w; %s", err, hint)
}

// reachError is the error of a request that got no answer: an untrusted
// certificate says so, anything else says the deployment is unreachable.
func (c *Config) reachError(err error) error {
	if isCertificateError(err) {
		return fmt.Errorf("%s: %w", c.Describe(), c.untrusted(err))
	}
	return fmt.Errorf("%s unreachable: %w", c.Describe(), err)
}

// newS3 builds the S3 client for region.
func (c *Config) newS3(cs *conns, region string) (*miniogo.Client, error) {
	s3, err := miniogo.New(cs.base.Host, &miniogo.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: cs.base.Scheme == "https", Transport: cs.tr, Region: region, MaxRetries: s3MaxRetries})
	if err != nil {
		return nil, fmt.Errorf("%s: s3 client: %w", c.Describe(), err)
	}
	s3.SetAppInfo("cutover", "1")
	return s3, nil
}

// transport is the shared HTTP transport: the CA file's roots when set,
// and enough idle connections for concurrent object reads.
func (c *Config) transport() (*http.Transport, error) {
	tr := httpx.Transport()
	tr.MaxIdleConnsPerHost = 256
	tr.DisableCompression = true
	if c.CAFile == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("CA file " + c.CAFile + " holds no PEM certificate")
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

// Admin returns the madmin-go client, opening it on first use. It contacts
// nothing.
func (c *Config) Admin() (*madmin.AdminClient, error) {
	cs, err := c.clients()
	if err != nil {
		return nil, err
	}
	return cs.admin, nil
}

// S3 returns the minio-go client, opening it on first use. Its region is
// the block's, else the one the admin API reports (ServerInfo, which a
// freeze does not hold), else us-east-1 (MinIO's default): without a
// region, minio-go would ask each bucket's location through the S3 API,
// and a freeze would hold that request. Requests that must pass a freeze
// set FreezeBypassHeader (see PassFreeze).
func (c *Config) S3(ctx context.Context) (*miniogo.Client, error) {
	cs, err := c.clients()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs.s3 != nil {
		return cs.s3, nil
	}
	region, err := c.region(ctx, cs.admin)
	if err != nil {
		return nil, err
	}
	if cs.s3, err = c.newS3(cs, region); err != nil {
		return nil, err
	}
	return cs.s3, nil
}

// defaultRegion is the region MinIO signs with when none is configured.
const defaultRegion = "us-east-1"

// region is the S3 region to sign with: see S3.
func (c *Config) region(ctx context.Context, admin *madmin.AdminClient) (string, error) {
	if c.Region != "" {
		return c.Region, nil
	}
	info, err := admin.ServerInfo(ctx)
	if err != nil {
		return "", c.adminError("server info (for the region)", err)
	}
	if info.Region == "" {
		return defaultRegion, nil
	}
	return info.Region, nil
}

// FreezeBypassHeader is the request header with which MinIO lets an S3
// request through a service freeze (it uses it for its own speed tests;
// any non-empty value works). cutover's own reads carry it, so that a
// validate_objects step can prove data readable while clients are still
// held by a drain.
const FreezeBypassHeader = "X-Amz-Meta-Minio-Object-Perf"

// PassFreeze marks request options (a *minio.GetObjectOptions,
// *minio.ListObjectsOptions, *minio.StatObjectOptions ...) so that the
// request is served while MinIO is frozen.
func PassFreeze(opts interface{ Set(key, value string) }) {
	opts.Set(FreezeBypassHeader, "cutover")
}
