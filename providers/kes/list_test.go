package kes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"testing"

	"github.com/cutover/cutover/providers"
)

// collect lists pattern and returns the names, failing on an error or a
// name yielded twice.
func collect(t *testing.T, s providers.KeyStore, pattern string) []string {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	for name, err := range s.List(context.Background(), pattern) {
		if err != nil {
			t.Fatalf("List(%q): %v", pattern, err)
		}
		if seen[name] {
			t.Fatalf("List(%q) yielded %q twice", pattern, name)
		}
		seen[name] = true
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// want filters names by pattern, sorted.
func want(names []string, pattern string) []string {
	var out []string
	for _, n := range names {
		if ok, _ := path.Match(pattern, n); ok || pattern == "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// edgeNames are names that stress the walk: ones starting with digits,
// capitals and '_', runs of '-' and '_', names that are prefixes of
// others, and 80-character names.
func edgeNames() []string {
	long := "x"
	for len(long) < 80 {
		long += "-y"
	}
	long = long[:80]
	names := []string{"0", "00", "0-0", "9z", "A", "Z-Z", "_a", "__", "_-a", "_--b", "a--b", "a---c", "a-", "k", "k-",
		"k-1", "k-10", "k-100", "k_", "minio-key", "minio--key", "z", long, long[:79] + "z"}
	var out []string
	for _, n := range names {
		if validForTest(n) {
			out = append(out, n)
		}
	}
	for i := range 40 {
		out = append(out, fmt.Sprintf("k-%04d", i), fmt.Sprintf("K-%03d", i), fmt.Sprintf("_-%02d", i))
	}
	return out
}

func validForTest(n string) bool { return n[len(n)-1] != '-' }

func TestListWalksEveryPage(t *testing.T) {
	names := edgeNames()
	for _, pageSize := range []int{1, 3, 1024} {
		f := &fakeKES{names: names, pageSize: pageSize}
		s := newFakeStore(t, f)
		for _, pattern := range []string{"", "*", "k-*", "k-00*", "_*", "_-*", "a-*", "minio-*", "K-0?1", "k-0001", "nothing*", "-*", "x.y*"} {
			got, exp := collect(t, s, pattern), want(names, pattern)
			if !slices.Equal(got, exp) {
				t.Errorf("page %d, List(%q) = %d names %v, want %d %v", pageSize, pattern, len(got), got, len(exp), exp)
			}
		}
		t.Logf("page size %d: %d requests", pageSize, f.requests.Load())
	}
}

func TestListRandomStores(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "-0Aa_z"
	for round := range 8 {
		set := map[string]bool{}
		for range 1 + r.IntN(60) {
			n := ""
			for range 1 + r.IntN(5) {
				n += string(alphabet[r.IntN(len(alphabet))])
			}
			if n[0] != '-' && n[len(n)-1] != '-' && n != "_" {
				set[n] = true
			}
		}
		var names []string
		for n := range set {
			names = append(names, n)
		}
		f := &fakeKES{names: names, pageSize: 1 + r.IntN(8)}
		s := newFakeStore(t, f)
		if got, exp := collect(t, s, "*"), want(names, "*"); !slices.Equal(got, exp) {
			t.Fatalf("round %d, page %d: List = %v, want %v", round, f.pageSize, got, exp)
		}
	}
}

func TestListStopsWhenConsumerStops(t *testing.T) {
	f := &fakeKES{names: edgeNames(), pageSize: 2}
	s := newFakeStore(t, f)
	n := 0
	for _, err := range s.List(context.Background(), "*") {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("got %d names", n)
	}
}

func TestListBadPattern(t *testing.T) {
	s := newFakeStore(t, &fakeKES{pageSize: 10})
	for _, err := range s.List(context.Background(), "[") {
		if !errors.Is(err, path.ErrBadPattern) {
			t.Fatalf("List([) error = %v, want path.ErrBadPattern", err)
		}
		return
	}
	t.Fatal("List([) yielded nothing")
}

func TestErrorsMapToProviderErrors(t *testing.T) {
	cases := []struct {
		status  int
		message string
		want    error
	}{
		{404, "key does not exist", providers.ErrKeyNotFound},
		{400, "key already exists", providers.ErrKeyExists},
		{403, "not authorized: insufficient permissions", ErrNotAllowed},
		{400, "decryption failed: ciphertext is not authentic", ErrProof},
	}
	for _, c := range cases {
		s := newFakeStore(t, &fakeKES{status: c.status, message: c.message})
		_, err := s.Describe(context.Background(), "some-key")
		var apiErr *APIError
		if !errors.Is(err, c.want) || !errors.As(err, &apiErr) || apiErr.Status != c.status || apiErr.Message != c.message {
			t.Errorf("status %d %q: err = %v, want %v as an *APIError", c.status, c.message, err, c.want)
		}
	}
	notKES := newFakeStore(t, &fakeKES{status: 404, message: "page not found"})
	if err := notKES.Status(context.Background()); err == nil || errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("404 on /v1/status: %v, want an error that is not ErrKeyNotFound", err)
	}
	s := newFakeStore(t, &fakeKES{status: 502, message: "failed to read key"})
	_, err := s.Describe(context.Background(), "k")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Err != nil || errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("502: err = %v, want a plain *APIError", err)
	}
}
