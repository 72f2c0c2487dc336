package keskey

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cutover/cutover/providers"
)

const fixtureIdentity = "a50860c4760175abfb14e2d22944b88fbc7ad088b689cd83549864d7f528ea1a"

func seq32() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func randomKey(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeKESFixture decodes a value the real KES v0.24.0 wrote and
// re-encodes it byte for byte.
func TestDecodeKESFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/kes-v0.24.0-fs-value.txt")
	if err != nil {
		t.Fatal(err)
	}
	v, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 23, 11, 48, 58, 138821676, time.UTC)
	if !bytes.Equal(v.Key.Material, seq32()) || v.Key.Algorithm != AES256 || v.Legacy ||
		v.CreatedBy != fixtureIdentity || !v.CreatedAt.Equal(want) || len(v.HMACKey) != 32 {
		t.Fatalf("Parse(fixture) = alg %q created %v by %q legacy %v", v.Key.Algorithm, v.CreatedAt, v.CreatedBy, v.Legacy)
	}
	again, err := EncodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("EncodeValue(Parse(fixture)) differs from what KES wrote:\n got %s\nwant %s", again, b)
	}
}

func TestEncodeDecode(t *testing.T) {
	now := time.Now()
	for _, alg := range []string{"", AES256, ChaCha20, "AES256-GCM_SHA256", "XCHACHA20-POLY1305"} {
		k := providers.Key{Material: randomKey(t), Algorithm: alg}
		b, err := Encode(k, "me", now)
		if err != nil {
			t.Fatalf("Encode(%q): %v", alg, err)
		}
		v, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Encode(%q)): %v", alg, err)
		}
		wantAlg := AES256
		if strings.HasPrefix(alg, "ChaCha") || strings.HasPrefix(alg, "XCHACHA") {
			wantAlg = ChaCha20
		}
		if !bytes.Equal(v.Key.Material, k.Material) || v.Key.Algorithm != wantAlg ||
			v.CreatedBy != "me" || !v.CreatedAt.Equal(now) || len(v.HMACKey) != 32 {
			t.Errorf("round trip of %q: alg %q by %q at %v", alg, v.Key.Algorithm, v.CreatedBy, v.CreatedAt)
		}
	}
}

func TestEncodeZeroTimeAndNoCreator(t *testing.T) {
	for _, at := range []time.Time{{}, time.Unix(0, 0), time.Unix(-5, 7)} {
		b, err := EncodeValue(Value{Key: providers.Key{Material: seq32()}, CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		v, err := Parse(b)
		if err != nil || !v.CreatedAt.Equal(at) || v.CreatedBy != "" {
			t.Errorf("round trip of time %v: %v %v %v", at, v.CreatedAt, v.CreatedBy, err)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	now := time.Now()
	for _, k := range []providers.Key{
		{Material: make([]byte, 16)}, {Material: make([]byte, 33)}, {},
		{Material: make([]byte, 32), Algorithm: "AES128"},
	} {
		if _, err := Encode(k, "", now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Encode(%d bytes, %q): err = %v, want ErrInvalid", len(k.Material), k.Algorithm, err)
		}
	}
	_, err := EncodeValue(Value{Key: providers.Key{Material: seq32()}, HMACKey: []byte{1}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("EncodeValue with a 1-byte HMAC key: %v", err)
	}
}

func TestDecodeLegacyJSON(t *testing.T) {
	mat := seq32()
	b64 := base64.StdEncoding.EncodeToString(mat)
	cases := map[string]string{
		`{"bytes":"` + b64 + `"}`: AES256,
		`{"bytes":"` + b64 + `","algorithm":"AES256-GCM_SHA256","created_at":"2020-01-02T03:04:05Z","created_by":"x"}`: AES256,
		`{"bytes":"` + b64 + `","algorithm":"XCHACHA20-POLY1305"}`:                                                     ChaCha20,
		` {"Bytes":"` + b64 + `","Algorithm":"ChaCha20","extra":1} ` + "\n":                                            ChaCha20,
	}
	for in, alg := range cases {
		v, err := Parse([]byte(in))
		if err != nil || !v.Legacy || v.Key.Algorithm != alg || !bytes.Equal(v.Key.Material, mat) {
			t.Errorf("Parse(%s) = %q legacy=%v err=%v", in, v.Key.Algorithm, v.Legacy, err)
		}
	}
	v := Value{Key: providers.Key{Material: mat, Algorithm: ChaCha20}, CreatedAt: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), CreatedBy: "x"}
	b, err := EncodeLegacy(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil || !got.Legacy || !got.CreatedAt.Equal(v.CreatedAt) || got.CreatedBy != "x" || got.Key.Algorithm != ChaCha20 {
		t.Errorf("Parse(EncodeLegacy) = %+v, %v", got.CreatedAt, err)
	}
}

// secretMark is placed in invalid values; no error may repeat it.
const secretMark = "SECRETSECRET"

func TestDecodeRefuses(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte(secretMark))
	good := seq32()
	cases := map[string][]byte{
		"empty":              nil,
		"garbage":            []byte(secretMark + "!!"),
		"JSON, 12 bytes":     []byte(`{"bytes":"` + short + `"}`),
		"JSON, bad base64":   []byte(`{"bytes":"` + secretMark + `!"}`),
		"JSON, bad alg":      []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString(good) + `","algorithm":"` + secretMark + `"}`),
		"JSON, not object":   []byte(`"` + secretMark + `"`),
		"JSON, bad time":     []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString(good) + `","created_at":"` + secretMark + `"}`),
		"proto, no HMAC":     protoValue(keyPair(good, 1), nil),
		"proto, short HMAC":  protoValue(keyPair(good, 1), keyPair([]byte(secretMark), 1)),
		"proto, HMAC hash 2": protoValue(keyPair(good, 1), keyPair(good, 2)),
		"proto, key type 3":  protoValue(keyPair(good, 3), keyPair(good, 1)),
		"proto, short key":   protoValue(keyPair([]byte(secretMark), 1), keyPair(good, 1)),
		"proto, truncated":   b64(protowire.AppendTag(nil, 1, protowire.BytesType)),
		"proto, bad length":  b64(append(protowire.AppendTag(nil, 1, protowire.BytesType), 0x7f, 'x')),
		"proto, bad UTF-8":   b64(append(rawProto(keyPair(good, 1), keyPair(good, 1)), 0x22, 2, 0xff, 0xfe)),
	}
	for name, in := range cases {
		_, err := Decode(in)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, secretMark) || strings.Contains(msg, hex.EncodeToString(good[:4])) {
			t.Errorf("%s: error %q quotes the value", name, msg)
		}
	}
}

// TestDecodeProtoLikeProtobuf: unknown fields are skipped and a repeated
// embedded message merges, as Go's protobuf runtime (KES's decoder) does.
func TestDecodeProtoLikeProtobuf(t *testing.T) {
	good := seq32()
	raw := rawProto(keyPair(good, 1), keyPair(good, 1))
	raw = protowire.AppendTag(raw, 99, protowire.VarintType)
	raw = protowire.AppendVarint(raw, 7)
	// A second Key message that only changes the type: merged, not replaced.
	second := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 2)
	raw = protowire.AppendBytes(protowire.AppendTag(raw, 1, protowire.BytesType), second)
	k, err := Decode(b64(raw))
	if err != nil || !bytes.Equal(k.Material, good) || k.Algorithm != ChaCha20 {
		t.Fatalf("Decode = %q, %v", k.Algorithm, err)
	}
}

func keyPair(key []byte, typ uint64) []byte { return appendKeyPair(nil, key, typ) }

func rawProto(key, hmacKey []byte) []byte {
	b := appendMessage(nil, fieldKey, key)
	if hmacKey != nil {
		b = appendMessage(b, fieldHMACKey, hmacKey)
	}
	return b
}

func protoValue(key, hmacKey []byte) []byte { return b64(rawProto(key, hmacKey)) }

func b64(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "my-key", "_x", "A_b-9", strings.Repeat("k", 80), "k-0001"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "_", "-a", "a-", "a.b", "a/b", `a\b`, "..", "a b", "ä", strings.Repeat("k", 81)} {
		if err := ValidName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestMatcher(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"", "x", true}, {"*", "x", true}, {"minio-*", "minio-1", true}, {"minio-*", "app-1", false},
		{"app-0001", "app-0001", true}, {"app-000?", "app-0001", true}, {"[ab]-1", "b-1", true},
	}
	for _, c := range cases {
		m, err := Matcher(c.pattern)
		if err != nil || m(c.name) != c.want {
			t.Errorf("Matcher(%q)(%q) = %v, %v", c.pattern, c.name, m != nil && m(c.name), err)
		}
	}
	for _, bad := range []string{"[", "a[", "x\\", "[]a]"} {
		if _, err := Matcher(bad); !errors.Is(err, path.ErrBadPattern) {
			t.Errorf("Matcher(%q): err = %v, want ErrBadPattern", bad, err)
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	for pattern, want := range map[string]string{"": "", "*": "", "minio-*": "minio-", "a?b": "a", "ab[c]": "ab", `a\*`: "a", "exact": "exact"} {
		if got := LiteralPrefix(pattern); got != want {
			t.Errorf("LiteralPrefix(%q) = %q, want %q", pattern, got, want)
		}
	}
}
