// Package keybackup is cutover's key backup format: one file encrypted with
// age (filippo.io/age) holding JSON lines — a header, one record per key with
// its material and the SHA-256 of that material (the manifest), and a trailer
// with the count and a SHA-256 over every line before it. Writer streams keys
// in and Reader streams them out, so neither holds more than one key in
// memory. Nothing unencrypted is ever written to disk.
package keybackup

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"filippo.io/age"

	"github.com/cutover/cutover/providers"
)

// Format names this version of the format.
const Format = "cutover-key-backup/1"

// ErrCorrupt means the backup does not decode, or a checksum or count fails.
var ErrCorrupt = errors.New("backup is corrupt")

// Header is the first line.
type Header struct {
	Format  string    `json:"format"`
	Source  string    `json:"source"`
	Pattern string    `json:"pattern"`
	Created time.Time `json:"created"`
}

type keyRecord struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Material  string `json:"material"`
	SHA256    string `json:"sha256"`
}

type trailer struct {
	Count  int64  `json:"count"`
	SHA256 string `json:"sha256"`
}

// Writer encrypts a backup to the given recipients as keys are added.
type Writer struct {
	enc   io.WriteCloser
	buf   *bufio.Writer
	sum   hash.Hash
	count int64
}

// NewWriter starts a backup written to w, encrypted to recipients.
func NewWriter(w io.Writer, h Header, recipients ...age.Recipient) (*Writer, error) {
	enc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return nil, fmt.Errorf("age: %w", err)
	}
	bw := &Writer{enc: enc, buf: bufio.NewWriter(enc), sum: sha256.New()}
	h.Format = Format
	return bw, bw.line(h)
}

func (w *Writer) line(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	w.sum.Write(data)
	_, err = w.buf.Write(data)
	return err
}

// Add appends one key.
func (w *Writer) Add(name string, k providers.Key) error {
	sum := sha256.Sum256(k.Material)
	w.count++
	return w.line(keyRecord{Name: name, Algorithm: algorithmOf(k), Material: base64.StdEncoding.EncodeToString(k.Material), SHA256: hex.EncodeToString(sum[:])})
}

func algorithmOf(k providers.Key) string {
	if k.Algorithm == "" {
		return "AES256"
	}
	return k.Algorithm
}

// Close writes the trailer and finishes the encryption. It returns the
// plaintext digest, which a Reader of the same file must reproduce.
func (w *Writer) Close() (count int64, digest string, err error) {
	digest = hex.EncodeToString(w.sum.Sum(nil))
	if err := w.line(trailer{Count: w.count, SHA256: digest}); err != nil {
		return 0, "", err
	}
	if err := w.buf.Flush(); err != nil {
		return 0, "", err
	}
	return w.count, digest, w.enc.Close()
}

// Summary is what reading a whole backup proved.
type Summary struct {
	Header Header
	Count  int64
	Digest string
}

// Read decrypts a backup and calls fn for every key, checking each key's
// checksum, the count and the overall digest. fn may be nil (verify only).
// On a failed check it returns ErrCorrupt (wrapped), after fn has seen the
// keys before the fault: callers that restore must verify first.
func Read(r io.Reader, fn func(name string, k providers.Key) error, identities ...age.Identity) (Summary, error) {
	dec, err := age.Decrypt(r, identities...)
	if err != nil {
		return Summary{}, fmt.Errorf("decrypt backup: %w", err)
	}
	rd := &reader{sc: bufio.NewScanner(dec), sum: sha256.New()}
	rd.sc.Buffer(make([]byte, 64*1024), 1024*1024)
	return rd.read(fn)
}

type reader struct {
	sc  *bufio.Scanner
	sum hash.Hash
}

func (rd *reader) next() ([]byte, error) {
	if !rd.sc.Scan() {
		if err := rd.sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("%w: it ends before its trailer", ErrCorrupt)
	}
	return rd.sc.Bytes(), nil
}

func (rd *reader) read(fn func(string, providers.Key) error) (Summary, error) {
	var s Summary
	line, err := rd.next()
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(line, &s.Header); err != nil || s.Header.Format != Format {
		return s, fmt.Errorf("%w: not a %s file", ErrCorrupt, Format)
	}
	rd.sum.Write(append(line, '\n'))
	for {
		line, err := rd.next()
		if err != nil {
			return s, err
		}
		if done, err := rd.record(line, &s, fn); done || err != nil {
			return s, err
		}
	}
}

// record handles one line: a key, or the trailer (done).
func (rd *reader) record(line []byte, s *Summary, fn func(string, providers.Key) error) (bool, error) {
	var kr keyRecord
	if err := json.Unmarshal(line, &kr); err == nil && kr.Name != "" {
		k, err := kr.key()
		if err != nil {
			return false, fmt.Errorf("%w: key %s: %v", ErrCorrupt, kr.Name, err)
		}
		rd.sum.Write(append(append([]byte{}, line...), '\n'))
		s.Count++
		if fn != nil {
			return false, fn(kr.Name, k)
		}
		return false, nil
	}
	var t trailer
	if err := json.Unmarshal(line, &t); err != nil {
		return false, fmt.Errorf("%w: unreadable record", ErrCorrupt)
	}
	s.Digest = hex.EncodeToString(rd.sum.Sum(nil))
	if t.Count != s.Count || t.SHA256 != s.Digest {
		return false, fmt.Errorf("%w: trailer says %d keys, digest %.12s; read %d keys, digest %.12s", ErrCorrupt, t.Count, t.SHA256, s.Count, s.Digest)
	}
	return true, nil
}

func (kr keyRecord) key() (providers.Key, error) {
	m, err := base64.StdEncoding.DecodeString(kr.Material)
	if err != nil {
		return providers.Key{}, errors.New("material is not base64")
	}
	sum := sha256.Sum256(m)
	if hex.EncodeToString(sum[:]) != kr.SHA256 {
		return providers.Key{}, errors.New("checksum mismatch")
	}
	return providers.Key{Material: m, Algorithm: kr.Algorithm}, nil
}
