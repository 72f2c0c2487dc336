package keyops_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/providers/keyops"
)

// TestVerifyAgainstKES: KES never reveals material, so Verify must tell
// the copied key from another key under the same name by SameKey.
func TestVerifyAgainstKES(t *testing.T) {
	srv := testenv.KES(t, testenv.KESOptions{})
	s, err := kes.New(kes.Config{Name: "kms.kes", Endpoint: srv.Endpoint, APIKey: srv.APIKey, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	copied, wrong := keystoretest.NewKey(t), keystoretest.NewKey(t)
	if err := s.Create(ctx, "copied", copied); err != nil {
		t.Fatal(err)
	}
	if err := srv.ImportKey("minio-key", wrong.Material); err != nil {
		t.Fatal(err)
	}
	if err := keyops.Verify(ctx, s, "copied", copied); err != nil {
		t.Errorf("Verify of the copied key: %v", err)
	}
	err = keyops.Verify(ctx, s, "minio-key", copied)
	if err == nil || !strings.Contains(err.Error(), "DIFFERENT key") {
		t.Errorf("Verify with a DIFFERENT key in KES: %v, want a DIFFERENT key failure", err)
	}
	// The round trip alone passes for that key: what Verify used to rely on.
	if err := s.Prove(ctx, "minio-key"); err != nil {
		t.Errorf("Prove(minio-key): %v", err)
	}
	if err := keyops.Verify(ctx, s, "absent", copied); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Verify of an absent key: %v, want ErrKeyNotFound", err)
	}
}

// fakeStore never reveals material; it may compare and prove.
type fakeStore struct {
	same     bool
	proveErr error
	proved   bool
}

func (f *fakeStore) Name() string                 { return "fake" }
func (f *fakeStore) Status(context.Context) error { return nil }
func (f *fakeStore) List(context.Context, string) iter.Seq2[string, error] {
	return func(func(string, error) bool) {}
}
func (f *fakeStore) Get(context.Context, string) (providers.Key, error) {
	return providers.Key{}, providers.ErrNotReadable
}
func (f *fakeStore) Create(context.Context, string, providers.Key) error { return nil }
func (f *fakeStore) Delete(context.Context, string) error                { return nil }
func (f *fakeStore) Prove(context.Context, string) error {
	f.proved = true
	return f.proveErr
}

type comparingStore struct{ *fakeStore }

func (c comparingStore) SameKey(context.Context, string, providers.Key) (bool, error) {
	return c.same, nil
}

func TestVerifyPrefersComparer(t *testing.T) {
	ctx := context.Background()
	k := keystoretest.NewKey(t)
	f := &fakeStore{same: false}
	if err := keyops.Verify(ctx, comparingStore{f}, "k", k); err == nil || !strings.Contains(err.Error(), "DIFFERENT key") {
		t.Errorf("Verify with a comparer saying different: %v", err)
	}
	if f.proved {
		t.Error("Verify fell back to Prove although the store compares keys")
	}
	f.same = true
	if err := keyops.Verify(ctx, comparingStore{f}, "k", k); err != nil {
		t.Errorf("Verify with a comparer saying same: %v", err)
	}
	// Without a comparer: the round trip.
	if err := keyops.Verify(ctx, f, "k", k); err != nil || !f.proved {
		t.Errorf("Verify without a comparer: %v (proved %v)", err, f.proved)
	}
	f.proveErr = errors.New("round trip failed")
	if err := keyops.Verify(ctx, f, "k", k); err == nil {
		t.Error("Verify passed although the round trip failed")
	}
}
