package keskey

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cutover/cutover/providers"
)

// legacyJSON is the value format of KES releases before 2024, which
// v0.24.0 still reads.
type legacyJSON struct {
	Bytes     []byte    `json:"bytes"`
	Algorithm string    `json:"algorithm"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// isJSON reports whether KES would take b for the legacy JSON format.
func isJSON(b []byte) bool { return json.Valid(b) }

// parseJSON decodes the legacy format. The decoder's own error is not
// wrapped: it may quote part of the value.
func parseJSON(b []byte) (Value, error) {
	var j legacyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Value{}, fmt.Errorf("%w: JSON value without the fields of a KES key", ErrInvalid)
	}
	typ, err := keyType(j.Algorithm)
	if err != nil {
		return Value{}, fmt.Errorf("%w: unsupported algorithm", ErrInvalid) // not quoted: part of the value
	}
	alg, _ := algorithmName(typ)
	if len(j.Bytes) != KeySize {
		return Value{}, fmt.Errorf("%w: secret key is %d bytes, want %d", ErrInvalid, len(j.Bytes), KeySize)
	}
	return Value{Key: providersKey(j.Bytes, alg), CreatedAt: j.CreatedAt, CreatedBy: j.CreatedBy, Legacy: true}, nil
}

// EncodeLegacy returns v in the legacy JSON format (without the HMAC key),
// for tests that check old values stay readable. Stores write EncodeValue's
// format.
func EncodeLegacy(v Value) ([]byte, error) {
	typ, err := keyType(v.Key.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(v.Key.Material) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalid, len(v.Key.Material), KeySize)
	}
	alg, _ := algorithmName(typ)
	return json.Marshal(legacyJSON{Bytes: v.Key.Material, Algorithm: alg, CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy})
}

// providersKey copies material into a providers.Key.
func providersKey(material []byte, alg string) providers.Key {
	return providers.Key{Material: append([]byte(nil), material...), Algorithm: alg}
}
