// Package httpx builds the HTTP clients steps use to talk to services: a CA
// file for private TLS, per-request timeouts, and responses read with a size
// cap so a misbehaving endpoint cannot exhaust memory.
package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// MaxBody is the most of a response body a step reads.
const MaxBody = 1 << 20

// Client returns an HTTP client trusting the PEM certificates in caFile (in
// addition to nothing else) when caFile is set, the system roots otherwise.
func Client(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
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
