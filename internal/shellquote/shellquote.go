// Package shellquote quotes arguments for a POSIX shell, so a command that
// cutover prints as a hint can be pasted as it is.
package shellquote

import (
	"regexp"
	"strings"
)

// safe are arguments a shell takes literally without quotes.
var safe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// Quote returns arg as one shell word: unchanged when it holds only safe
// characters, else in single quotes, each single quote inside closed,
// escaped and reopened.
func Quote(arg string) string {
	if safe.MatchString(arg) {
		return arg
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them with spaces.
func Join(args ...string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = Quote(a)
	}
	return strings.Join(out, " ")
}
