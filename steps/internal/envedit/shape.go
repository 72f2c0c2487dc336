package envedit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/cutover/cutover/internal/envfile"
)

// shape is what a step wrote to a file, kept to show what changed since
// without storing a secret: the value of each variable in clear when it is
// not masked, else only a salted digest of it (enough to tell whether it
// changed; a masked value is never shown anyway).
type shape struct {
	Salt string     `json:"salt"`
	Vars []shapeVar `json:"vars"`
}

type shapeVar struct {
	Key    string `json:"k"`
	Value  string `json:"v,omitempty"`
	Digest string `json:"h,omitempty"` // set for masked values
}

// shapeOf is the shape of f. The salt is derived from the file's original
// bytes (secret, kept only in undo/; state.json records a digest of them
// without the prefix), so a re-run writes the same shape.
func shapeOf(f *envfile.File, mask func(string) bool, original []byte) shape {
	salt := sha256.Sum256(append([]byte("cutover env shape salt\x00"), original...))
	s := shape{Salt: hex.EncodeToString(salt[:16])}
	for _, k := range f.Keys() {
		v, _ := f.Get(k)
		if masked(mask, k) {
			s.Vars = append(s.Vars, shapeVar{Key: k, Digest: s.digest(v)})
		} else {
			s.Vars = append(s.Vars, shapeVar{Key: k, Value: v})
		}
	}
	return s
}

func masked(mask func(string) bool, key string) bool {
	if mask == nil {
		return envfile.LooksSecret(key)
	}
	return mask(key)
}

func (s shape) digest(v string) string {
	sum := sha256.Sum256([]byte(s.Salt + "\x00" + v))
	return hex.EncodeToString(sum[:])
}

func (s shape) encode() []byte {
	data, _ := json.Marshal(s)
	return data
}

// file rebuilds what the step wrote, as far as a diff against current
// needs: a masked value that current still holds is taken from current, a
// changed one becomes a value current does not hold. It also reports which
// keys were masked when the step wrote them.
func (s shape) file(current *envfile.File) (*envfile.File, map[string]bool) {
	f := &envfile.File{}
	wasMasked := map[string]bool{}
	for _, v := range s.Vars {
		value := v.Value
		if v.Digest != "" {
			wasMasked[v.Key] = true
			now, ok := current.Get(v.Key)
			if ok && s.digest(now) == v.Digest {
				value = now
			} else {
				value = now + "\x00changed" // never shown: the key is masked
			}
		}
		f.Set(v.Key, value)
	}
	return f, wasMasked
}
