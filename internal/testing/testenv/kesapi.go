package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// KESKey is what KES's describe API says about a key.
type KESKey struct {
	Name      string    `json:"name"`
	Algorithm string    `json:"algorithm"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// ImportKey imports a 32-byte AES-256 key under name
// (PUT /v1/key/import/<name>). KES refuses to overwrite a key.
func (k *KESServer) ImportKey(name string, key []byte) error {
	body := map[string]any{"key": key, "cipher": "AES256"} // []byte becomes base64
	return k.call(http.MethodPut, "/v1/key/import/"+url.PathEscape(name), body, nil)
}

// ListKeys returns the names of the keys starting with prefix ("" for
// all), sorted, from the first page (1024 names) of
// GET /v1/key/list/<pattern>. KES v0.24.0 rejects a pattern ending in
// '-' and takes any other pattern as a literal prefix ("my-*" matches
// nothing; only "*" alone means all), so such prefixes are listed as
// "*" and filtered here.
func (k *KESServer) ListKeys(prefix string) ([]string, error) {
	pattern := prefix
	if !validKESPattern(pattern) {
		pattern = "*"
	}
	var out struct {
		Names []string `json:"names"`
	}
	if err := k.call(http.MethodGet, "/v1/key/list/"+url.PathEscape(pattern), nil, &out); err != nil {
		return nil, err
	}
	names := []string{}
	for _, n := range out.Names {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// validKESPattern reports whether KES accepts p as a list pattern
// without a '*': letters, digits, '_' and inner '-'.
func validKESPattern(p string) bool {
	if p == "" || p == "_" || len(p) > 80 {
		return false
	}
	for i, r := range p {
		ok := r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(r == '-' && i > 0 && i < len(p)-1)
		if !ok {
			return false
		}
	}
	return true
}

// DescribeKey describes the key name (GET /v1/key/describe/<name>).
func (k *KESServer) DescribeKey(name string) (KESKey, error) {
	var out KESKey
	err := k.call(http.MethodGet, "/v1/key/describe/"+url.PathEscape(name), nil, &out)
	return out, err
}

// call sends a JSON request as the admin and decodes a JSON answer
// into out (if not nil). A non-2xx status is an error with the body.
func (k *KESServer) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := k.do(method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("kes %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

// do sends one request to the server as the admin.
func (k *KESServer) do(method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, k.Endpoint+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return k.HTTPClient().Do(req)
}

// Requests fails t unless it can read KES's metrics, and returns how many
// requests KES has served successfully (the sum of its
// kes_http_request_success counters): a test compares two readings to
// prove requests reached this KES.
func (k *KESServer) Requests(t testing.TB) float64 {
	t.Helper()
	resp, err := k.HTTPClient().Get(k.Endpoint + "/v1/metrics")
	must(t, "kes metrics", err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, "kes metrics", err)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "kes_http_request_success") {
			v, err := strconv.ParseFloat(f[1], 64)
			must(t, "kes metrics: "+line, err)
			sum += v
		}
	}
	return sum
}
