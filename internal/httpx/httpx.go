// Package httpx builds the HTTP clients steps and providers use to talk to
// services: a transport whose connect, TLS handshake and response-header
// waits are bounded (every client cutover builds, the AWS SDK's, Vault's,
// KES's, MinIO's and the steps' own, uses Transport), a CA file for private
// TLS, per-request timeouts, and responses read with a size cap so a
// misbehaving endpoint cannot exhaust memory.
package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// MaxBody is the most of a response body a step reads.
const MaxBody = 1 << 20

// Bounds of one HTTP exchange at the transport level. A context deadline
// bounds the whole call on top of these; these make sure that a server that
// accepts a connection and never answers cannot hold a call that has none.
const (
	// ConnectTimeout bounds establishing a TCP connection.
	ConnectTimeout = 10 * time.Second
	// TLSHandshakeTimeout bounds a TLS handshake.
	TLSHandshakeTimeout = 10 * time.Second
	// ResponseHeaderTimeout bounds the wait for a response's headers after
	// the request is written.
	ResponseHeaderTimeout = 30 * time.Second
)

// Transport returns a new transport like http.DefaultTransport (proxy from
// the environment, HTTP/2, keep-alives) whose connect, TLS handshake and
// response-header waits are bounded by the constants above.
func Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	Bound(tr)
	return tr
}

// Bound sets tr's connect, TLS handshake and response-header bounds, for
// transports a library builds (the AWS SDK's, which also applies
// AWS_CA_BUNDLE to its own).
func Bound(tr *http.Transport) {
	tr.DialContext = (&net.Dialer{Timeout: ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = TLSHandshakeTimeout
	tr.ResponseHeaderTimeout = ResponseHeaderTimeout
	tr.ExpectContinueTimeout = time.Second
}

// Client returns an HTTP client trusting the PEM certificates in caFile (in
// addition to nothing else) when caFile is set, the system roots otherwise.
func Client(caFile string) (*http.Client, error) {
	tr := Transport()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// Response is a completed request with its (capped) body.
type Response struct {
	Status int
	Body   []byte
}

// Do sends a request and reads up to MaxBody of the response.
func Do(ctx context.Context, c *http.Client, method, url string, headers map[string]string, body string) (*Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return nil, fmt.Errorf("read response of %s %s: %w", method, url, err)
	}
	return &Response{Status: resp.StatusCode, Body: data}, nil
}

// Snippet returns the start of a body for an error message, on one line.
func Snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
