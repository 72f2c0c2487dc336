package kes

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cutover/cutover/internal/kesauth"
)

// fakeKES answers GET /v1/key/list/<pattern> the way KES v0.24.0 does
// (a literal prefix, "*" for all; patterns ending in '-' refused; the first
// pageSize names in byte order and the first name that did not fit), with
// a small page size so the walk is exercised without thousands of keys.
// A path with a handler in routes is served by it; any other path answers
// status/message as configured.
type fakeKES struct {
	routes   map[string]http.HandlerFunc // by path prefix
	mu       sync.Mutex
	names    []string
	pageSize int
	requests atomic.Int64
	status   int    // for non-list routes
	message  string // for non-list routes
}

func (f *fakeKES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	for prefix, h := range f.routes {
		if strings.HasPrefix(r.URL.Path, prefix) {
			h(w, r)
			return
		}
	}
	pattern, ok := strings.CutPrefix(r.URL.Path, routeList)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": f.message})
		return
	}
	if strings.HasSuffix(pattern, "-") || pattern == "_" || pattern == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message":"listing pattern is invalid"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(f.page(pattern))
}

// page is one page of names starting with pattern.
func (f *fakeKES) page(pattern string) listResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	prefix := pattern
	if prefix == "*" {
		prefix = ""
	}
	var match []string
	for _, n := range f.names {
		if strings.HasPrefix(n, prefix) {
			match = append(match, n)
		}
	}
	slices.Sort(match)
	if len(match) <= f.pageSize {
		return listResponse{Names: match}
	}
	return listResponse{Names: match[:f.pageSize], ContinueAt: match[f.pageSize]}
}

// newFakeStore serves f over mutual TLS and returns a Store for it.
func newFakeStore(t *testing.T, f *fakeKES) *Store {
	t.Helper()
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
	if err := os.WriteFile(ca, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := kesauth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Name: "kms.fake", Endpoint: srv.URL, APIKey: key.Text(), CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
