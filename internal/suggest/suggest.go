// Package suggest finds the name a user most likely meant: the one "did you
// mean" hint that plan diagnostics (unknown step and system types) and the
// CLI (unknown commands) share.
package suggest

import "github.com/agext/levenshtein"

// maxEdits is the largest edit distance still taken for a typo.
const maxEdits = 2

// Closest returns the name nearest to typed within two edits (insertions,
// deletions, substitutions), the first such in names on a tie, or "" when
// none is that close.
func Closest(typed string, names []string) string {
	best, bestDist := "", maxEdits+1
	for _, n := range names {
		if d := levenshtein.Distance(typed, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}
