// Package fs is the `fs` key store: a directory holding one file per key,
// byte-compatible with KES v0.24.0's filesystem keystore, so a KES server
// configured with `keystore: fs: path: <dir>` uses the keys cutover writes
// and cutover reads the keys KES wrote.
//
//	kms "kes_fs" {
//	  type = "fs"
//	  path = "/var/kes/keys"   # relative paths are relative to the plan
//	}
//
// The file name is the key name; the content is the keskey encoding (see
// providers/keskey), mode 0600. Create writes and syncs a temporary file
// and links it to the key's name (link(2) fails if the name exists, so the
// create is exclusive), then syncs the directory: a key file is complete
// the moment it appears, even if cutover is killed mid-write (KES's own
// O_EXCL create can leave an empty file). Replace writes a temporary file
// and swaps it in atomically, so the key is never absent. A crash can leave
// a temporary file behind: its name (".<name>.tmp-<random>") is no key
// name, so List and KES ignore it. List reads the directory in batches,
// never holding every name in memory.
//
// The directory must exist: KES creates it when it starts; cutover does not,
// so that a mistyped path fails instead of migrating into a new, empty
// directory. Key names are checked so that nothing escapes the directory.
//
// Errors wrap providers.ErrKeyNotFound and ErrKeyExists, and
// keskey.ErrInvalidName and keskey.ErrInvalid for bad names and values.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

const (
	// maxValueSize is the largest key file Get reads (KES's limit).
	maxValueSize = 1 << 20
	// listBatch is how many directory entries List reads at a time.
	listBatch = 256
	// tempInfix marks the temporary files: ".<name>.tmp-<random>".
	// The dot makes them invalid key names, so List skips them and KES
	// refuses to read them.
	tempInfix = ".tmp-"
)

// Store is a directory of KES key files. It is safe for concurrent use.
type Store struct {
	name      string
	dir       string
	createdBy string
}

var (
	_ providers.KeyStore = (*Store)(nil)
	_ providers.Replacer = (*Store)(nil)
)

// New returns the store of the directory dir, named name in messages
// ("kms.local"). It fails if dir is not an existing directory.
func New(name, dir string) (*Store, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	return &Store{name: name, dir: dir, createdBy: keskey.DefaultCreatedBy}, nil
}

// checkDir reports whether dir is an existing directory.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("fs keystore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("fs keystore: %s is not a directory", dir)
	}
	return nil
}

// Name returns the plan's name for the store.
func (s *Store) Name() string { return s.name }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Status checks the directory exists and can be listed.
func (s *Store) Status(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("fs keystore: %w", err)
	}
	defer f.Close()
	if _, err := f.ReadDir(1); err != nil && err != io.EOF {
		return fmt.Errorf("fs keystore: %w", err)
	}
	return nil
}

// List yields the names of the key files matching pattern, in directory
// order. It skips subdirectories and names KES's fs keystore cannot read
// (containing '.', '/' or '\'), among them the temporary files.
func (s *Store) List(ctx context.Context, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		match, err := keskey.Matcher(pattern)
		if err != nil {
			yield("", err)
			return
		}
		f, err := os.Open(s.dir)
		if err != nil {
			yield("", fmt.Errorf("fs keystore: %w", err))
			return
		}
		defer f.Close()
		s.listFrom(ctx, f, match, yield)
	}
}

// listFrom reads f's entries in batches and yields the matching keys.
func (s *Store) listFrom(ctx context.Context, f *os.File, match func(string) bool, yield func(string, error) bool) {
	for {
		if err := ctx.Err(); err != nil {
			yield("", err)
			return
		}
		entries, err := f.ReadDir(listBatch)
		for _, e := range entries {
			if !e.IsDir() && checkName(e.Name()) == nil && match(e.Name()) && !yield(e.Name(), nil) {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			yield("", fmt.Errorf("fs keystore: listing %s: %w", s.dir, err))
			return
		}
	}
}

// Get reads and decodes the key file name.
func (s *Store) Get(ctx context.Context, name string) (providers.Key, error) {
	b, err := s.read(ctx, name)
	if err != nil {
		return providers.Key{}, err
	}
	k, err := keskey.Decode(b)
	if err != nil {
		return providers.Key{}, s.keyErr(name, err)
	}
	return k, nil
}

// read returns the content of the key file name.
func (s *Store) read(ctx context.Context, name string) ([]byte, error) {
	if err := s.isKeyFile(ctx, name); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, s.keyErr(name, notFound(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxValueSize+1))
	if err != nil {
		return nil, s.keyErr(name, err)
	}
	if len(b) > maxValueSize {
		return nil, s.keyErr(name, fmt.Errorf("%w: file larger than %d bytes", keskey.ErrInvalid, maxValueSize))
	}
	return b, nil
}

// Create writes a new key file; ErrKeyExists if the name is taken. The
// name must be one KES's API accepts (keskey.ValidName).
func (s *Store) Create(ctx context.Context, name string, k providers.Key) error {
	if err := keskey.ValidName(name); err != nil {
		return s.keyErr(name, err)
	}
	b, err := s.encode(ctx, name, k)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(name, b)
	if err != nil {
		return s.keyErr(name, err)
	}
	defer os.Remove(tmp)
	// link(2) fails if the name exists: an exclusive create, of a file
	// that is complete and on disk before it has the key's name.
	err = os.Link(tmp, s.path(name))
	if errors.Is(err, iofs.ErrExist) {
		return s.keyErr(name, providers.ErrKeyExists)
	}
	if err != nil {
		return s.keyErr(name, err)
	}
	return s.syncDir()
}

// Replace swaps in a new value for an existing key atomically: readers see
// the old or the new file, never none. ErrKeyNotFound if absent.
func (s *Store) Replace(ctx context.Context, name string, k providers.Key) error {
	if err := s.isKeyFile(ctx, name); err != nil {
		return err
	}
	b, err := s.encode(ctx, name, k)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(name, b)
	if err != nil {
		return s.keyErr(name, err)
	}
	defer os.Remove(tmp) // after the swap it holds the old value
	if err := swap(tmp, s.path(name)); err != nil {
		return s.keyErr(name, notFound(err))
	}
	return s.syncDir()
}

// Delete removes the key file; ErrKeyNotFound if absent.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.isKeyFile(ctx, name); err != nil {
		return err
	}
	if err := os.Remove(s.path(name)); err != nil {
		return s.keyErr(name, notFound(err))
	}
	return s.syncDir()
}

// encode checks the name and context and encodes k.
func (s *Store) encode(ctx context.Context, name string, k providers.Key) ([]byte, error) {
	if err := s.check(ctx, name); err != nil {
		return nil, err
	}
	b, err := keskey.Encode(k, s.createdBy, time.Now().UTC())
	if err != nil {
		return nil, s.keyErr(name, err)
	}
	return b, nil
}

// writeTemp writes b to a new temporary file beside the key (mode 0600)
// and syncs it.
func (s *Store) writeTemp(name string, b []byte) (string, error) {
	return fsutil.WriteTemp(s.path(name), b, 0o600)
}

// syncDir makes the directory's entries durable.
func (s *Store) syncDir() error {
	if err := fsutil.SyncDir(s.dir); err != nil {
		return fmt.Errorf("fs keystore: %w", err)
	}
	return nil
}

// check returns ctx's error or the name's.
func (s *Store) check(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return s.keyErr(name, err)
	}
	return nil
}

// isKeyFile checks the name and that it names a file: ErrKeyNotFound if
// there is none, or a directory (which List does not show either).
func (s *Store) isKeyFile(ctx context.Context, name string) error {
	if err := s.check(ctx, name); err != nil {
		return err
	}
	fi, err := os.Lstat(s.path(name))
	if err != nil {
		return s.keyErr(name, notFound(err))
	}
	if fi.IsDir() {
		return s.keyErr(name, fmt.Errorf("%w: a directory has that name", providers.ErrKeyNotFound))
	}
	return nil
}

// checkName refuses names that could leave the directory or that KES's fs
// keystore refuses: empty, or containing '/', '\', '.' or NUL.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\.\x00") {
		return fmt.Errorf("%w %q: a key file name cannot be empty or contain / \\ . or NUL", keskey.ErrInvalidName, name)
	}
	return nil
}

// path returns the key file's path.
func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// notFound maps a missing file to providers.ErrKeyNotFound.
func notFound(err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return providers.ErrKeyNotFound
	}
	return err
}

// keyErr adds the store and key name to err.
func (s *Store) keyErr(name string, err error) error {
	return fmt.Errorf("%s: key %q: %w", s.name, name, err)
}
