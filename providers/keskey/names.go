package keskey

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// MaxNameLength is the longest key name KES v0.24.0's API accepts.
const MaxNameLength = 80

// ErrInvalidName is wrapped by ValidName's errors.
var ErrInvalidName = errors.New("invalid key name")

// ValidName reports, wrapping ErrInvalidName, whether KES v0.24.0's API
// would refuse name (auth.go validName): it must be 1 to 80 of the
// characters A-Z a-z 0-9 _ -, not start or end with '-', and not be "_".
// Stores refuse to create a key KES could not address.
func ValidName(name string) error {
	if name == "" || name == "_" || len(name) > MaxNameLength {
		return fmt.Errorf("%w %q: want 1 to %d characters, not %q", ErrInvalidName, name, MaxNameLength, "_")
	}
	for i, r := range name {
		if !nameRune(r, i == 0 || i == len(name)-1) {
			return fmt.Errorf("%w %q: use only A-Z a-z 0-9 _ and inner -", ErrInvalidName, name)
		}
	}
	return nil
}

// nameRune reports whether r may appear in a key name; edge is true for the
// first and last character, which may not be '-'.
func nameRune(r rune, edge bool) bool {
	switch {
	case r >= '0' && r <= '9', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r == '_':
		return true
	}
	return r == '-' && !edge
}

// Matcher returns a function reporting whether a name matches pattern, a
// path.Match glob where "" means every name. It fails, wrapping
// path.ErrBadPattern, on a malformed pattern.
func Matcher(pattern string) (func(name string) bool, error) {
	if pattern == "" || pattern == "*" {
		return func(string) bool { return true }, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("key pattern %q: %w", pattern, err)
	}
	return func(name string) bool {
		ok, _ := path.Match(pattern, name)
		return ok
	}, nil
}

// LiteralPrefix returns the part of pattern before its first
// metacharacter (* ? [ \): every name the pattern matches starts with it.
func LiteralPrefix(pattern string) string {
	if i := strings.IndexAny(pattern, `*?[\`); i >= 0 {
		return pattern[:i]
	}
	return pattern
}
