package keskey

import (
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// KES's enumerations (internal/crypto: SecretKeyType, Hash).
const (
	typeAES256   = 1
	typeChaCha20 = 2
	hashSHA256   = 1
)

// Field numbers of the messages in KES's internal/protobuf/crypto.proto
// and of google.protobuf.Timestamp.
const (
	fieldKey       = 1 // KeyVersion.Key, SecretKey.Key, HMACKey.Key
	fieldType      = 2 // SecretKey.Type, HMACKey.Hash
	fieldHMACKey   = 2 // KeyVersion.HMACKey
	fieldCreatedAt = 3 // KeyVersion.CreatedAt
	fieldCreatedBy = 4 // KeyVersion.CreatedBy
	fieldSeconds   = 1 // Timestamp.seconds
	fieldNanos     = 2 // Timestamp.nanos
)

// encodeProto marshals the KeyVersion the way Go's protobuf runtime does
// (fields in number order, proto3 defaults omitted) and base64-encodes it.
func encodeProto(v Value, typ uint64, hmacKey []byte) []byte {
	var b []byte
	b = appendMessage(b, fieldKey, appendKeyPair(nil, v.Key.Material, typ))
	b = appendMessage(b, fieldHMACKey, appendKeyPair(nil, hmacKey, hashSHA256))
	b = appendMessage(b, fieldCreatedAt, appendTimestamp(nil, v.CreatedAt))
	if v.CreatedBy != "" {
		b = protowire.AppendTag(b, fieldCreatedBy, protowire.BytesType)
		b = protowire.AppendString(b, v.CreatedBy)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	return out
}

// appendKeyPair appends a SecretKey or HMACKey body: bytes 1, uint32 2.
func appendKeyPair(b, key []byte, typ uint64) []byte {
	b = protowire.AppendTag(b, fieldKey, protowire.BytesType)
	b = protowire.AppendBytes(b, key)
	b = protowire.AppendTag(b, fieldType, protowire.VarintType)
	return protowire.AppendVarint(b, typ)
}

// appendTimestamp appends a google.protobuf.Timestamp body.
func appendTimestamp(b []byte, t time.Time) []byte {
	if s := t.Unix(); s != 0 {
		b = protowire.AppendTag(b, fieldSeconds, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s))
	}
	if n := t.Nanosecond(); n != 0 {
		b = protowire.AppendTag(b, fieldNanos, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(n)))
	}
	return b
}

// appendMessage appends an embedded message field.
func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// pbKeyVersion is the decoded KeyVersion message.
type pbKeyVersion struct {
	key, hmac pbKeyPair
	seconds   int64
	nanos     int32
	createdBy string
}

// pbKeyPair is a decoded SecretKey or HMACKey message.
type pbKeyPair struct {
	key []byte
	typ uint32
}

// parseProto decodes the base64 protobuf format and validates it the way
// KES's KeyVersion.UnmarshalPB does.
func parseProto(b []byte) (Value, error) {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return Value{}, fmt.Errorf("%w: neither JSON nor base64", ErrInvalid)
	}
	var m pbKeyVersion
	if err := walk(raw, m.field); err != nil {
		return Value{}, err
	}
	return m.value()
}

// value validates the decoded message and converts it.
func (m *pbKeyVersion) value() (Value, error) {
	if len(m.key.key) != KeySize {
		return Value{}, fmt.Errorf("%w: secret key is %d bytes, want %d", ErrInvalid, len(m.key.key), KeySize)
	}
	alg, err := algorithmName(uint64(m.key.typ))
	if err != nil {
		return Value{}, err
	}
	if len(m.hmac.key) != KeySize || m.hmac.typ != hashSHA256 {
		return Value{}, fmt.Errorf("%w: no valid HMAC-SHA256 key", ErrInvalid)
	}
	return Value{
		Key:       providersKey(m.key.key, alg),
		HMACKey:   m.hmac.key,
		CreatedAt: time.Unix(m.seconds, int64(m.nanos)).UTC(),
		CreatedBy: m.createdBy,
	}, nil
}

// field decodes one KeyVersion field; repeated messages merge, as in protobuf.
func (m *pbKeyVersion) field(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	switch {
	case num == fieldKey && typ == protowire.BytesType:
		return message(b, m.key.field)
	case num == fieldHMACKey && typ == protowire.BytesType:
		return message(b, m.hmac.field)
	case num == fieldCreatedAt && typ == protowire.BytesType:
		return message(b, m.timestampField)
	case num == fieldCreatedBy && typ == protowire.BytesType:
		s, n := protowire.ConsumeString(b)
		if n >= 0 && !utf8.ValidString(s) {
			return 0, fmt.Errorf("%w: created_by is not UTF-8", ErrInvalid)
		}
		m.createdBy = s
		return n, nil
	}
	return protowire.ConsumeFieldValue(num, typ, b), nil
}

// timestampField decodes one google.protobuf.Timestamp field.
func (m *pbKeyVersion) timestampField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	if typ != protowire.VarintType || (num != fieldSeconds && num != fieldNanos) {
		return protowire.ConsumeFieldValue(num, typ, b), nil
	}
	v, n := protowire.ConsumeVarint(b)
	if num == fieldSeconds {
		m.seconds = int64(v)
	} else {
		m.nanos = int32(v)
	}
	return n, nil
}

// field decodes one SecretKey or HMACKey field.
func (p *pbKeyPair) field(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	switch {
	case num == fieldKey && typ == protowire.BytesType:
		v, n := protowire.ConsumeBytes(b)
		p.key = append([]byte(nil), v...)
		return n, nil
	case num == fieldType && typ == protowire.VarintType:
		v, n := protowire.ConsumeVarint(b)
		p.typ = uint32(v)
		return n, nil
	}
	return protowire.ConsumeFieldValue(num, typ, b), nil
}

// fieldFunc decodes the value of one field from the start of b and returns
// how many bytes it used (negative: malformed).
type fieldFunc func(num protowire.Number, typ protowire.Type, b []byte) (int, error)

// message decodes a length-delimited embedded message with fn.
func message(b []byte, fn fieldFunc) (int, error) {
	body, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return n, nil
	}
	return n, walk(body, fn)
}

// walk calls fn for every field of the message b.
func walk(b []byte, fn fieldFunc) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: malformed protobuf", ErrInvalid)
		}
		b = b[n:]
		m, err := fn(num, typ, b)
		if err != nil {
			return err
		}
		if m < 0 {
			return fmt.Errorf("%w: malformed protobuf", ErrInvalid)
		}
		b = b[m:]
	}
	return nil
}
