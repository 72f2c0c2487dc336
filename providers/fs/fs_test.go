package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New("kms.test", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyStoreSuite(t *testing.T) {
	// 600 keys: more than two of List's directory batches.
	keystoretest.Run(t, func(t *testing.T) providers.KeyStore { return newStore(t) },
		keystoretest.Options{Replace: true, Readable: true, ListKeys: 600})
}

func TestCreateWritesKESFile(t *testing.T) {
	s := newStore(t)
	k := keystoretest.NewKey(t)
	if err := s.Create(context.Background(), "my-key", k); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "my-key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir(), "my-key"))
	v, err := keskey.Parse(b)
	if err != nil || !bytes.Equal(v.Key.Material, k.Material) || v.CreatedBy != keskey.DefaultCreatedBy {
		t.Fatalf("file does not decode to the key (err %v)", err)
	}
}

func TestNamesCannotEscape(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := New("kms.test", dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k := keystoretest.NewKey(t)
	for _, name := range []string{"", "../escape", "a/b", `a\b`, "..", ".", ".hidden", "a.b", "a\x00b", "-a", "a b"} {
		if err := s.Create(ctx, name, k); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Create(%q): err = %v, want ErrInvalidName", name, err)
		}
	}
	for _, name := range []string{"", "../escape", "a/b", `a\b`, "..", "a.b", "a\x00b"} {
		if _, err := s.Get(ctx, name); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidName", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Delete(%q): err = %v, want ErrInvalidName", name, err)
		}
		if err := s.Replace(ctx, name, k); !errors.Is(err, keskey.ErrInvalidName) {
			t.Errorf("Replace(%q): err = %v, want ErrInvalidName", name, err)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("files appeared beside the key directory: %v", entries)
	}
}

func TestListSkipsWhatIsNotAKey(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Create(ctx, "real", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".real.tmp-123", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(s.Dir(), name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.Dir(), "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got := names(t, s, "*"); fmt.Sprint(got) != "[real]" {
		t.Fatalf("List = %v, want [real]", got)
	}
}

func TestListBadPattern(t *testing.T) {
	for _, err := range newStore(t).List(context.Background(), "[") {
		if !errors.Is(err, path.ErrBadPattern) {
			t.Fatalf("List([): err = %v, want ErrBadPattern", err)
		}
		return
	}
	t.Fatal("List([) yielded nothing")
}

func TestListStopsEarly(t *testing.T) {
	s := newStore(t)
	for i := range 5 {
		if err := s.Create(context.Background(), fmt.Sprintf("k%d", i), keystoretest.NewKey(t)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range s.List(context.Background(), "*") {
		n++
		break
	}
	if n != 1 {
		t.Fatal("List did not stop when the consumer did")
	}
}

func TestListCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range newStore(t).List(ctx, "*") {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	}
}

func TestGetRefusesBadFiles(t *testing.T) {
	s := newStore(t)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(s.Dir(), name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("garbage", []byte("not a key"))
	write("huge", bytes.Repeat([]byte("A"), maxValueSize+1))
	for _, name := range []string{"garbage", "huge"} {
		if _, err := s.Get(context.Background(), name); !errors.Is(err, keskey.ErrInvalid) {
			t.Errorf("Get(%s): err = %v, want keskey.ErrInvalid", name, err)
		}
	}
}

func TestNewRefusesMissingDir(t *testing.T) {
	if _, err := New("kms.x", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("New of a missing directory succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := New("kms.x", f); err == nil {
		t.Error("New of a file succeeded")
	}
}

func TestStatusFailsWhenDirGoes(t *testing.T) {
	s := newStore(t)
	if err := os.Remove(s.Dir()); err != nil {
		t.Fatal(err)
	}
	if err := s.Status(context.Background()); err == nil {
		t.Fatal("Status succeeded without the directory")
	}
}

func TestRenameIfExists(t *testing.T) {
	dir := t.TempDir()
	tmp, dst := filepath.Join(dir, "tmp"), filepath.Join(dir, "dst")
	os.WriteFile(tmp, []byte("new"), 0o600)
	if err := renameIfExists(tmp, dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("renameIfExists to a missing file: %v", err)
	}
	os.WriteFile(dst, []byte("old"), 0o600)
	if err := renameIfExists(tmp, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Fatalf("dst = %q", b)
	}
}

func TestReplaceLeavesNoTempFiles(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Create(ctx, "rot", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, "rot", keystoretest.NewKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, "absent", keystoretest.NewKey(t)); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("Replace(absent): %v", err)
	}
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after Replace, want 1", len(entries))
	}
}

func names(t *testing.T, s providers.KeyStore, pattern string) []string {
	var out []string
	for n, err := range s.List(context.Background(), pattern) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestDirectoryIsNotAKey(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := os.Mkdir(filepath.Join(s.Dir(), "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "subdir"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Get(dir): %v", err)
	}
	if err := s.Replace(ctx, "subdir", keystoretest.NewKey(t)); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Replace(dir): %v", err)
	}
	if err := s.Delete(ctx, "subdir"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Delete(dir): %v", err)
	}
	if fi, err := os.Stat(filepath.Join(s.Dir(), "subdir")); err != nil || !fi.IsDir() {
		t.Fatal("the directory was touched")
	}
}
