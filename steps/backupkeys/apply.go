package backupkeys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keybackup"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

type undoData struct {
	Path          string `json:"path"`
	ExistedBefore bool   `json:"existed_before"`
}

// Apply writes the backup, renames it into place, and verifies it.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if s.from == nil {
		return fmt.Errorf("the step's key store has errors")
	}
	if err := s.claim(rt); err != nil {
		return err
	}
	src, err := keyops.Open(ctx, s.from)
	if err != nil {
		return err
	}
	recipients, verifyWith, err := s.encryption()
	if err != nil {
		return err
	}
	written, err := s.write(ctx, rt, src, recipients)
	if err != nil {
		return err
	}
	return s.verify(ctx, rt, src, written, verifyWith)
}

// claim refuses to replace a file that was there before the step first ran
// (unless overwrite), and records what was there.
func (s *Step) claim(rt steps.Runtime) error {
	var u undoData
	if ok, err := rt.LoadUndo(&u); err != nil || ok {
		return err
	}
	_, err := os.Stat(s.To)
	existed := err == nil
	if existed && !s.Overwrite {
		return fmt.Errorf("%s already exists; choose another name or set overwrite = true", s.To)
	}
	return rt.SaveUndo(undoData{Path: s.To, ExistedBefore: existed})
}

// encryption returns the recipients to encrypt to and the identity that
// verifies the result.
func (s *Step) encryption() ([]age.Recipient, []age.Identity, error) {
	if s.Passphrase != "" {
		id, err := age.NewScryptIdentity(s.Passphrase)
		return s.recipients, []age.Identity{id}, err
	}
	if s.IdentityFile != "" {
		f, err := os.Open(s.IdentityFile)
		if err != nil {
			return nil, nil, fmt.Errorf("identity_file: %w", err)
		}
		defer f.Close()
		ids, err := age.ParseIdentities(f)
		if err != nil {
			return nil, nil, fmt.Errorf("identity_file %s: %w", s.IdentityFile, err)
		}
		return s.recipients, ids, nil
	}
	once, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, err
	}
	return append(append([]age.Recipient{}, s.recipients...), once.Recipient()), []age.Identity{once}, nil
}

type written struct {
	count  int64
	digest string
}

func (s *Step) write(ctx context.Context, rt steps.Runtime, src providers.KeyStore, recipients []age.Recipient) (written, error) {
	total, err := keyops.Count(ctx, src, s.Pattern)
	if err != nil {
		return written{}, err
	}
	if err := os.MkdirAll(filepath.Dir(s.To), 0o700); err != nil {
		return written{}, err
	}
	var wr written
	err = fsutil.WriteStream(s.To, 0o600, func(f io.Writer) error {
		w, err := keybackup.NewWriter(f, keybackup.Header{Source: s.from.Describe(), Pattern: s.Pattern, Created: time.Now().UTC()}, recipients...)
		if err != nil {
			return err
		}
		var done atomic.Int64
		for name, err := range src.List(ctx, s.Pattern) {
			if err != nil {
				return fmt.Errorf("list %s: %w", s.from.Describe(), err)
			}
			if err := addKey(ctx, w, src, name); err != nil {
				return err
			}
			rt.Progress(steps.Progress{Done: done.Add(1), Total: total, Unit: "keys"})
		}
		wr.count, wr.digest, err = w.Close()
		return err
	})
	return wr, err
}

func addKey(ctx context.Context, w *keybackup.Writer, src providers.KeyStore, name string) error {
	k, err := src.Get(ctx, name)
	if errors.Is(err, providers.ErrNotReadable) {
		return fmt.Errorf("%s never reveals key material, so it cannot be backed up by cutover; use the store's own backup", src.Name())
	}
	if err != nil {
		return fmt.Errorf("read key %s: %w", name, err)
	}
	return w.Add(name, k)
}

// verify decrypts the file and checks every key against the source.
func (s *Step) verify(ctx context.Context, rt steps.Runtime, src providers.KeyStore, w written, ids []age.Identity) error {
	f, err := os.Open(s.To)
	if err != nil {
		return err
	}
	defer f.Close()
	sum, err := keybackup.Read(f, func(name string, k providers.Key) error {
		return keyops.Verify(ctx, src, name, k)
	}, ids...)
	if err != nil {
		return fmt.Errorf("the backup does not restore: %w", err)
	}
	if sum.Count != w.count || sum.Digest != w.digest {
		return fmt.Errorf("the backup does not restore: wrote %d keys, read back %d", w.count, sum.Count)
	}
	fileSum, err := fileSHA256(s.To)
	if err != nil {
		return err
	}
	rt.SetOutput("count", fmt.Sprint(sum.Count))
	rt.SetOutput("file", s.To)
	rt.SetOutput("sha256", fileSum)
	rt.SetSummary(fmt.Sprintf("%d keys backed up to %s (sha256 %.12s); decrypted and checked against the source", sum.Count, s.To, fileSum))
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
