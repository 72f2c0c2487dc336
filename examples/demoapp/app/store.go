package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// Item is a work item as stored on disk: its payload sealed with
// AES-256-GCM under a data key, and the data key wrapped by the KMS the
// instance ran when it stored the item.
type Item struct {
	Version    int       `json:"version"`
	ID         string    `json:"id"`
	Provider   string    `json:"provider"` // ProviderLocal or ProviderAWS
	KeyID      string    `json:"key_id"`   // KMS.KeyID() at the time
	WrappedKey []byte    `json:"wrapped_key"`
	Nonce      []byte    `json:"nonce"`
	Ciphertext []byte    `json:"ciphertext"`
	Created    time.Time `json:"created"` // when it was accepted
	Stored     time.Time `json:"stored"`  // when it completed and was written
}

// ErrNotFound is returned for an item that is not stored.
var ErrNotFound = errors.New("no such item")

// idPattern is what NewID produces; anything else is not an item.
var idPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// NewID returns a random item id.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidID reports whether id can name an item.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Store keeps items as one JSON file each in a directory.
type Store struct{ dir string }

// OpenStore creates dir (mode 0700) if needed.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+".json") }

// itemAAD binds a payload's ciphertext to its item.
func itemAAD(id string) []byte { return []byte("demoapp/item/v1 " + id) }

// Seal encrypts payload under dataKey into a new Item.
func Seal(id, provider, keyID string, dataKey, wrapped, payload []byte, created time.Time) (*Item, error) {
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return &Item{Version: 1, ID: id, Provider: provider, KeyID: keyID, WrappedKey: wrapped, Nonce: nonce,
		Ciphertext: aead.Seal(nil, nonce, payload, itemAAD(id)), Created: created.UTC(), Stored: time.Now().UTC()}, nil
}

// Open decrypts the item's payload with its (unwrapped) data key.
func (it *Item) Open(dataKey []byte) ([]byte, error) {
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, it.Nonce, it.Ciphertext, itemAAD(it.ID))
	if err != nil {
		return nil, fmt.Errorf("item %s: payload does not decrypt with its data key", it.ID)
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(key), DataKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Put writes it atomically: a temporary file, fsync, rename, fsync of the
// directory.
func (s *Store) Put(it *Item) error {
	data, err := json.MarshalIndent(it, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.path(it.ID), append(data, '\n'), 0o600)
}

// Get reads an item; ErrNotFound if there is none.
func (s *Store) Get(id string) (*Item, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	data, err := os.ReadFile(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var it Item
	if err := json.Unmarshal(data, &it); err != nil {
		return nil, fmt.Errorf("item %s: corrupt file: %v", id, err)
	}
	return &it, nil
}

// List returns every stored item, oldest first.
func (s *Store) List() ([]*Item, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var items []*Item
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !ValidID(id) {
			continue
		}
		it, err := s.Get(id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return nil, err
		}
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Created.Before(items[j].Created) })
	return items, nil
}
