// Package secret keeps the set of secret values a process has seen and masks them
// in anything it writes.
//
// Structural masking (a sensitive variable shown as "(sensitive)" in a diff) is the
// first line of defence and lives where values are rendered. This package is the
// second: every writer cutover prints, logs or persists through is wrapped by a
// Set, so a secret that reaches text by any path is replaced by Mask before it
// leaves the process.
//
// Every value is masked, whatever its length. A value of ShortLength bytes or
// more is masked wherever it occurs. A shorter one (1 to 3 bytes) is masked where
// it stands as a token of its own: not preceded or followed by an ASCII letter, a
// digit, '_' or a byte of a non-ASCII character (so "abc" is masked in "pin=abc"
// and "abc def", not in "abcdef"); masking every "1" in the output would make it
// unreadable and protect nothing. Overlapping secrets are masked as one range.
//
// Redact masks a whole text; Stream masks a byte stream whatever its write
// boundaries (a command's output); Writer masks each write as a whole message.
package secret

import (
	"bytes"
	"io"
	"sort"
	"sync"
)

// Mask is what a secret value is replaced with in every output.
const Mask = "(sensitive)"

// ShortLength is the length from which a value is masked wherever it occurs;
// shorter values are masked as whole tokens only (see the package doc).
const ShortLength = 4

// WeakLength is the length under which `cutover validate` warns that a
// sensitive value is weak.
const WeakLength = 8

// Set is a goroutine-safe set of secret values. The zero value is ready to use.
type Set struct {
	mu      sync.RWMutex
	values  map[string]struct{}
	matcher *matcher
}

// Add records values as secret. Empty values are ignored.
func (s *Set) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = make(map[string]struct{})
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		if _, ok := s.values[v]; !ok {
			s.values[v] = struct{}{}
			s.matcher = nil
		}
	}
}

// Len reports how many values are masked.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.values)
}

// Has reports whether v is one of the secret values.
func (s *Set) Has(v string) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.values[v]
	return ok
}

// Holdback is the most bytes a Stream of the set keeps back before
// writing them: the longest value's length minus one, or a short value's
// length while the byte after it is not known yet; 0 for an empty set.
func (s *Set) Holdback() int {
	if m := s.currentMatcher(); m != nil {
		return holdback(m)
	}
	return 0
}

// Redact returns text with every known secret replaced by Mask.
func (s *Set) Redact(text string) string {
	if s == nil || s.Len() == 0 {
		return text
	}
	var buf bytes.Buffer
	buf.Grow(len(text))
	st := s.Stream(&buf)
	_, _ = st.Write([]byte(text))
	_ = st.Close()
	return buf.String()
}

// currentMatcher returns the automaton of the current values, nil if
// there are none.
func (s *Set) currentMatcher() *matcher {
	s.mu.RLock()
	m, n := s.matcher, len(s.values)
	s.mu.RUnlock()
	if m != nil || n == 0 {
		return m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.matcher == nil {
		vals := make([]string, 0, len(s.values))
		for v := range s.values {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		s.matcher = newMatcher(vals)
	}
	return s.matcher
}

// Writer returns a writer that masks each Write through s as a whole message
// before passing it to w, holding nothing back (a prompt shows at once). It
// is for writers of whole messages (rendered events, diagnostics); a byte
// stream such as a command's output goes through Stream instead.
func (s *Set) Writer(w io.Writer) io.Writer { return &maskingWriter{set: s, w: w} }

type maskingWriter struct {
	set *Set
	w   io.Writer
}

func (m *maskingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(m.w, m.set.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
