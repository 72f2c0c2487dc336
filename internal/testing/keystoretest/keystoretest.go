// Package keystoretest is the one test suite every providers.KeyStore backend
// runs (in the style of KES's keystore tests): create, get, list across more
// than one page, exists, not found, delete, concurrent creates of one name,
// and, where the store supports them, atomic replace and proof of use.
package keystoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/providers"
)

// Options describe what the store under test can do.
type Options struct {
	// Readable is true when Get returns material; false when it must return
	// providers.ErrNotReadable (KES, AWS KMS).
	Readable bool
	// ListKeys is how many keys the list test creates; it should exceed the
	// store's page size so listing must follow pages. Default 250.
	ListKeys int
	// NoDelete declares a store that cannot delete: the delete tests then
	// check nothing.
	NoDelete bool
	// Replace declares that the store is a providers.Replacer (an atomic
	// overwrite); Prove that it is a providers.Prover. A store that lacks a
	// declared capability, or has one its test does not declare, fails:
	// nothing is skipped because a type assertion failed.
	Replace, Prove bool
}

// capability fails t unless the store has the capability exactly when the
// options declare it; it reports whether there is one to test.
func capability(t *testing.T, what string, has, declared bool) bool {
	t.Helper()
	switch {
	case declared && !has:
		t.Fatalf("the store is declared to have %s, and has none", what)
	case has && !declared:
		t.Fatalf("the store has %s that its test does not declare: set the option, so the suite checks it", what)
	}
	return has
}

// Run runs the suite. open must return a store that is empty and isolated
// from other subtests (a fresh directory, a unique prefix).
func Run(t *testing.T, open func(t *testing.T) providers.KeyStore, opts Options) {
	if opts.ListKeys == 0 {
		opts.ListKeys = 250
	}
	tests := []struct {
		name string
		fn   func(*testing.T, providers.KeyStore, Options)
	}{
		{"Status", testStatus}, {"CreateGet", testCreateGet}, {"CreateExisting", testCreateExisting},
		{"NotFound", testNotFound}, {"Delete", testDelete}, {"ListAllPages", testList},
		{"ListPattern", testListPattern}, {"ConcurrentCreate", testConcurrentCreate},
		{"Replace", testReplace}, {"Prove", testProve},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t), opts) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// NewKey returns a random AES-256 key.
func NewKey(t testing.TB) providers.Key {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return providers.Key{Material: b, Algorithm: "AES256"}
}

func testStatus(t *testing.T, s providers.KeyStore, _ Options) {
	if err := s.Status(ctx(t)); err != nil {
		t.Fatalf("Status: %v", err)
	}
}

func testCreateGet(t *testing.T, s providers.KeyStore, o Options) {
	k := NewKey(t)
	if err := s.Create(ctx(t), "my-key", k); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := s.Get(ctx(t), "my-key")
	if !o.Readable {
		if !errors.Is(err, providers.ErrNotReadable) {
			t.Fatalf("Get on an unreadable store: err = %v, want ErrNotReadable", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got.Material, k.Material) {
		t.Fatal("Get returned different material than Create stored")
	}
}

func testCreateExisting(t *testing.T, s providers.KeyStore, o Options) {
	first, second := NewKey(t), NewKey(t)
	if err := s.Create(ctx(t), "dup", first); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Create(ctx(t), "dup", second); !errors.Is(err, providers.ErrKeyExists) {
		t.Fatalf("second Create: err = %v, want ErrKeyExists", err)
	}
	if o.Readable {
		got, err := s.Get(ctx(t), "dup")
		if err != nil || !bytes.Equal(got.Material, first.Material) {
			t.Fatalf("after a refused Create the key changed (err %v)", err)
		}
	}
}

func testNotFound(t *testing.T, s providers.KeyStore, o Options) {
	_, err := s.Get(ctx(t), "absent")
	want := providers.ErrKeyNotFound
	if !errors.Is(err, want) {
		t.Fatalf("Get of an absent key: err = %v, want %v", err, want)
	}
	if o.NoDelete {
		return
	}
	if err := s.Delete(ctx(t), "absent"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Delete of an absent key: err = %v, want ErrKeyNotFound", err)
	}
}

func testDelete(t *testing.T, s providers.KeyStore, o Options) {
	if o.NoDelete {
		return // declared: the store cannot delete
	}
	if err := s.Create(ctx(t), "gone", NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(t), "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx(t), "gone"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrKeyNotFound", err)
	}
	if names := list(t, s, "*"); len(names) != 0 {
		t.Fatalf("List after Delete = %v, want none", names)
	}
	if err := s.Create(ctx(t), "gone", NewKey(t)); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
}

func list(t *testing.T, s providers.KeyStore, pattern string) []string {
	var names []string
	for name, err := range s.List(ctx(t), pattern) {
		if err != nil {
			t.Fatalf("List(%q): %v", pattern, err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// createMany creates n keys named prefix-0000... with bounded concurrency.
func createMany(t *testing.T, s providers.KeyStore, prefix string, n int) []string {
	names := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
		wg.Add(1)
		sem <- struct{}{}
		go func(name string) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.Create(ctx(t), name, NewKey(t)); err != nil {
				errs <- fmt.Errorf("Create %s: %w", name, err)
			}
		}(names[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func testList(t *testing.T, s providers.KeyStore, o Options) {
	want := createMany(t, s, "k", o.ListKeys)
	got := list(t, s, "*")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List returned %d names, want %d (every page, each name once)", len(got), len(want))
	}
	if all := list(t, s, ""); len(all) != len(want) {
		t.Fatalf(`List("") returned %d names, want %d`, len(all), len(want))
	}
}

func testListPattern(t *testing.T, s providers.KeyStore, _ Options) {
	createMany(t, s, "minio", 3)
	createMany(t, s, "app", 2)
	if got := list(t, s, "minio-*"); len(got) != 3 {
		t.Fatalf(`List("minio-*") = %v, want the 3 minio keys`, got)
	}
	if got := list(t, s, "app-0001"); len(got) != 1 || got[0] != "app-0001" {
		t.Fatalf(`List("app-0001") = %v`, got)
	}
}

func testConcurrentCreate(t *testing.T, s providers.KeyStore, _ Options) {
	const n = 16
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { results <- s.Create(ctx(t), "race", NewKey(t)) }()
	}
	ok := 0
	for i := 0; i < n; i++ {
		err := <-results
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, providers.ErrKeyExists):
			t.Errorf("concurrent Create: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Creates of one name succeeded, want exactly 1", ok)
	}
}

func testReplace(t *testing.T, s providers.KeyStore, o Options) {
	r, ok := s.(providers.Replacer)
	if !capability(t, "an atomic replace (providers.Replacer)", ok, o.Replace) {
		return
	}
	if err := s.Create(ctx(t), "rot", NewKey(t)); err != nil {
		t.Fatal(err)
	}
	next := NewKey(t)
	stop := make(chan struct{})
	absent := make(chan string, 1)
	go watchPresent(t, s, "rot", stop, absent)
	err := r.Replace(ctx(t), "rot", next)
	close(stop)
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if msg := <-absent; msg != "" {
		t.Fatal(msg)
	}
	if o.Readable {
		got, err := s.Get(ctx(t), "rot")
		if err != nil || !bytes.Equal(got.Material, next.Material) {
			t.Fatalf("after Replace Get = err %v or old material", err)
		}
	}
	if err := r.Replace(ctx(t), "never-created", next); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Replace of an absent key: err = %v, want ErrKeyNotFound", err)
	}
}

// watchPresent lists name until stop, reporting any moment it was absent.
func watchPresent(t *testing.T, s providers.KeyStore, name string, stop <-chan struct{}, out chan<- string) {
	for {
		select {
		case <-stop:
			out <- ""
			return
		default:
		}
		found := false
		for n, err := range s.List(context.Background(), name) {
			if err == nil && n == name {
				found = true
			}
		}
		if !found {
			out <- "during Replace the key was absent from the store"
			return
		}
	}
}

func testProve(t *testing.T, s providers.KeyStore, o Options) {
	p, ok := s.(providers.Prover)
	if !capability(t, "a proof of use (providers.Prover)", ok, o.Prove) {
		return
	}
	if err := s.Create(ctx(t), "proof", NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.Prove(ctx(t), "proof"); err != nil {
		t.Fatalf("Prove: %v", err)
	}
	if err := p.Prove(ctx(t), "absent"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Prove of an absent key: err = %v, want ErrKeyNotFound", err)
	}
}
