package rotatejwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Encoding is how an entry of the key list holds its private key. Every
// encoding carries a PKCS#8 private key.
type Encoding string

// The encodings rotate_jwt reads and writes.
const (
	// EncodingBase64DER is base64 (standard, padded) of PKCS#8 DER: the
	// default, and what the demo app reads.
	EncodingBase64DER Encoding = "base64_der"
	// EncodingPEM is a PEM "PRIVATE KEY" block (newlines included; in an
	// env file they stand as the two characters \n, see listToEnv).
	EncodingPEM Encoding = "pem"
	// EncodingBase64PEM is base64 (standard, padded) of such a PEM block,
	// trailing newline included, as `base64 -w0 key.pem` writes it.
	EncodingBase64PEM Encoding = "base64_pem"
)

// Encodings lists the encodings in the order the docs name them.
var Encodings = []Encoding{EncodingBase64DER, EncodingPEM, EncodingBase64PEM}

// String names the encoding for people.
func (e Encoding) String() string {
	switch e {
	case EncodingBase64DER:
		return "base64 of PKCS#8 DER"
	case EncodingPEM:
		return "PEM"
	case EncodingBase64PEM:
		return "base64 of PEM"
	}
	return string(e)
}

// Curves are the curve names rotate_jwt accepts, in order (the JWS
// algorithms ES256, ES384 and ES512).
var Curves = []string{"P-256", "P-384", "P-521"}

// curveByName returns the curve called name (one of Curves).
func curveByName(name string) (elliptic.Curve, bool) {
	switch name {
	case "P-256":
		return elliptic.P256(), true
	case "P-384":
		return elliptic.P384(), true
	case "P-521":
		return elliptic.P521(), true
	}
	return nil, false
}

// pemType is the PEM block type of a PKCS#8 private key.
const pemType = "PRIVATE KEY"

// entry is one key of a list: its position (from 1), how it is encoded,
// its curve and its key ID. The key material itself is not kept.
type entry struct {
	Index    int
	Encoding Encoding
	Curve    string
	KID      string
}

func (e entry) String() string { return fmt.Sprintf("%s (%s)", e.KID, e.Curve) }

// ErrKeyList is returned for a key list rotate_jwt refuses to extend: an
// entry that is no ECDSA private key it can read, or entries in different
// encodings.
var ErrKeyList = errors.New("unusable JWT key list")

// splitList returns the non-empty entries of a comma-separated list, trimmed.
func splitList(list string) []string {
	var out []string
	for _, k := range strings.Split(list, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// parseList reads every entry of list. It fails, naming entries by index
// and never showing key material, when an entry cannot be read or when
// the entries do not all share one encoding.
func parseList(list string) ([]entry, error) {
	var entries []entry
	var bad []string
	for i, s := range splitList(list) {
		e, err := parseEntry(s)
		if err != nil {
			bad = append(bad, fmt.Sprintf("entry %d: %v", i+1, err))
			continue
		}
		e.Index = i + 1
		entries = append(entries, e)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrKeyList, strings.Join(bad, "; "))
	}
	if err := sameEncoding(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// sameEncoding fails when entries use more than one encoding, listing
// which entries use which.
func sameEncoding(entries []entry) error {
	var order []Encoding
	byEnc := map[Encoding][]string{}
	for _, e := range entries {
		if byEnc[e.Encoding] == nil {
			order = append(order, e.Encoding)
		}
		byEnc[e.Encoding] = append(byEnc[e.Encoding], fmt.Sprint(e.Index))
	}
	if len(order) < 2 {
		return nil
	}
	parts := make([]string, len(order))
	for i, enc := range order {
		word := "entry"
		if len(byEnc[enc]) > 1 {
			word = "entries"
		}
		parts[i] = fmt.Sprintf("%s %s: %s", word, strings.Join(byEnc[enc], ", "), enc)
	}
	return fmt.Errorf("%w: the entries mix formats (%s); the app reads one format, so make the list uniform before rotating", ErrKeyList, strings.Join(parts, "; "))
}

// parseEntry reads one entry: PEM if it starts like PEM, otherwise base64
// of either PEM or DER.
func parseEntry(s string) (entry, error) {
	if strings.HasPrefix(s, "-----BEGIN") {
		return parseKey(EncodingPEM, []byte(s))
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return entry{}, errors.New("neither PEM nor standard base64")
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("-----BEGIN")) {
		return parseKey(EncodingBase64PEM, raw)
	}
	return parseKey(EncodingBase64DER, raw)
}

// parseKey reads a PKCS#8 ECDSA key, PEM-armoured unless enc is
// EncodingBase64DER.
func parseKey(enc Encoding, data []byte) (entry, error) {
	der := data
	if enc != EncodingBase64DER {
		block, rest := pem.Decode(data)
		switch {
		case block == nil:
			return entry{}, fmt.Errorf("%s that holds no PEM block", enc)
		case block.Type != pemType:
			return entry{}, fmt.Errorf("%s of a %q block, not PKCS#8 %q", enc, block.Type, pemType)
		case len(bytes.TrimSpace(rest)) > 0:
			return entry{}, fmt.Errorf("%s with more than one block", enc)
		}
		der = block.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return entry{}, fmt.Errorf("%s that is not a PKCS#8 private key", enc)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return entry{}, fmt.Errorf("%s of a %T, not an ECDSA key", enc, k)
	}
	name := ec.Curve.Params().Name
	if !slices.Contains(Curves, name) {
		return entry{}, fmt.Errorf("%s of an ECDSA key on curve %s, not one of %s", enc, name, strings.Join(Curves, ", "))
	}
	kid, err := keyID(&ec.PublicKey)
	if err != nil {
		return entry{}, err
	}
	return entry{Encoding: enc, Curve: name, KID: kid}, nil
}

// keyID is a key's ID: the first 16 hex digits of the SHA-256 of its
// public key in PKIX DER (the demo app's kid).
func keyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:16], nil
}

// newKey returns a fresh key on curve, encoded as enc, and its entry.
func newKey(curve string, enc Encoding) (encoded string, e entry, err error) {
	c, ok := curveByName(curve)
	if !ok {
		return "", entry{}, fmt.Errorf("unknown curve %q", curve)
	}
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return "", entry{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", entry{}, err
	}
	kid, err := keyID(&k.PublicKey)
	if err != nil {
		return "", entry{}, err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
	switch enc {
	case EncodingBase64DER:
		encoded = base64.StdEncoding.EncodeToString(der)
	case EncodingPEM:
		encoded = strings.TrimSpace(string(block))
	case EncodingBase64PEM:
		encoded = base64.StdEncoding.EncodeToString(block)
	default:
		return "", entry{}, fmt.Errorf("unknown encoding %q", enc)
	}
	return encoded, entry{Index: 1, Encoding: enc, Curve: curve, KID: kid}, nil
}
