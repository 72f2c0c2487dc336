package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrCorrupt means a checkpoint file failed its check: truncated, not JSON,
// or its content does not hash to the digest recorded for it. The error is a
// *CorruptError naming the file. Nothing in such a file is used.
var ErrCorrupt = errors.New("checkpoint is corrupt")

// CorruptError says which checkpoint file failed its check and how.
type CorruptError struct {
	Path    string // the file
	Problem string // what is wrong, e.g. "is truncated or not JSON: unexpected end of JSON input"
	Want    string // the recorded digest ("sha256:<hex>"), if the problem is a mismatch
	Got     string // the digest of what the file holds
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("%s: %s %s", ErrCorrupt, e.Path, e.Problem)
	if e.Want != "" {
		msg += fmt.Sprintf(" (recorded %s, found %s)", shortDigest(e.Want), shortDigest(e.Got))
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// shortDigest is "sha256:" and the first 12 hex digits, enough to compare by eye.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

// Digest is "sha256:<hex>" of data: how undo blobs and sealed files are checked.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// sealPrefix opens every sealed file: the digest is its first member.
const sealPrefix = `{"digest":"`

// seal encodes v (a struct marshalling to a JSON object without a "digest"
// member) as an indented JSON object whose first member "digest" is the
// Digest of the compact JSON of the rest: the object v marshals to. A reader
// compacts the file, takes the digest out and hashes what is left (unseal),
// so whitespace does not matter and any other change does.
func seal(v any) (data []byte, digest string, err error) {
	compact, digest, err := sealCompact(v)
	if err != nil {
		return nil, "", err
	}
	var out bytes.Buffer
	out.Grow(len(compact) * 5 / 4)
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, "", err
	}
	out.WriteByte('\n')
	return out.Bytes(), digest, nil
}

// sealCompact is seal without the indentation, on one line (how state.log
// records are written), and the digest it carries.
func sealCompact(v any) (data []byte, digest string, err error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, "", fmt.Errorf("seal: %T does not encode as a JSON object", v)
	}
	digest = Digest(body)
	var compact bytes.Buffer
	compact.Grow(len(body) + 90)
	compact.WriteString(sealPrefix + digest + `"`)
	if len(body) > 2 {
		compact.WriteByte(',')
	}
	compact.Write(body[1:])
	return compact.Bytes(), digest, nil
}

// errNoDigest is the Problem of a file that is JSON but carries no digest.
const errNoDigest = "carries no digest (written by an older cutover, or edited by hand)"

// unseal checks data (the content of the sealed file path) and returns the
// object without its digest, ready to unmarshal; any failure is a
// *CorruptError.
func unseal(path string, data []byte) ([]byte, error) {
	var c bytes.Buffer
	if err := json.Compact(&c, data); err != nil {
		return nil, &CorruptError{Path: path, Problem: "is truncated or not JSON: " + err.Error()}
	}
	b := c.Bytes()
	const digestLen = len("sha256:") + 64
	if !bytes.HasPrefix(b, []byte(sealPrefix)) || len(b) < len(sealPrefix)+digestLen+2 || b[len(sealPrefix)+digestLen] != '"' {
		return nil, &CorruptError{Path: path, Problem: errNoDigest}
	}
	want := string(b[len(sealPrefix) : len(sealPrefix)+digestLen])
	rest := b[len(sealPrefix)+digestLen+1:]
	var body []byte
	switch rest[0] {
	case ',':
		body = append([]byte{'{'}, rest[1:]...)
	case '}':
		body = []byte("{}")
	default:
		return nil, &CorruptError{Path: path, Problem: errNoDigest}
	}
	if got := Digest(body); got != want {
		return nil, &CorruptError{Path: path, Problem: "does not match its digest: it was changed outside cutover or damaged", Want: want, Got: got}
	}
	return body, nil
}
