// Package secret keeps the set of secret values a process has seen and masks them
// in anything it writes.
//
// Structural masking (a sensitive variable shown as "(sensitive)" in a diff) is the
// first line of defence and lives where values are rendered. This package is the
// second: every writer cutover prints, logs or persists through is wrapped by a
// Set, so a secret that reaches text by any path is replaced by Mask before it
// leaves the process. Values shorter than MinLength are not masked as substrings
// (masking "1" everywhere would make output unreadable); they are still masked
// structurally.
package secret

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// Mask is what a secret value is replaced with in every output.
const Mask = "(sensitive)"

// MinLength is the shortest value masked as a substring.
const MinLength = 6

// Set is a goroutine-safe set of secret values. The zero value is ready to use.
type Set struct {
	mu       sync.RWMutex
	values   map[string]struct{}
	replacer *strings.Replacer
}

// Add records values as secret. Empty and short values are ignored for
// substring masking (see MinLength).
func (s *Set) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = make(map[string]struct{})
	}
	changed := false
	for _, v := range values {
		if len(v) < MinLength {
			continue
		}
		if _, ok := s.values[v]; !ok {
			s.values[v] = struct{}{}
			changed = true
		}
	}
	if changed {
		s.replacer = nil
	}
}

// Len reports how many values are masked as substrings.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.values)
}

// Redact returns text with every known secret replaced by Mask. Longer secrets
// are replaced first, so a secret containing another is masked whole.
func (s *Set) Redact(text string) string {
	if s == nil {
		return text
	}
	r := s.currentReplacer()
	if r == nil {
		return text
	}
	return r.Replace(text)
}

func (s *Set) currentReplacer() *strings.Replacer {
	s.mu.RLock()
	r, n := s.replacer, len(s.values)
	s.mu.RUnlock()
	if r != nil || n == 0 {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replacer == nil {
		vals := make([]string, 0, len(s.values))
		for v := range s.values {
			vals = append(vals, v)
		}
		sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
		pairs := make([]string, 0, 2*len(vals))
		for _, v := range vals {
			pairs = append(pairs, v, Mask)
		}
		s.replacer = strings.NewReplacer(pairs...)
	}
	return s.replacer
}

// Writer returns a writer that masks every Write through s before passing it to
// w. Callers write whole lines or whole messages: a secret split across two
// Write calls is not recognised.
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
