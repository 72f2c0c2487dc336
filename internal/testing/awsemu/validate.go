package awsemu

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// validator collects model-constraint violations into one
// ValidationException worded as AWS words them. Values are never echoed:
// some are secrets.
type validator struct{ errs []string }

func (v *validator) add(member, constraint string) {
	v.errs = append(v.errs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint))
}

// required checks that a member is present.
func (v *validator) required(member string, present bool) {
	if !present {
		v.errs = append(v.errs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
}

// str checks an optional string's length in characters.
func (v *validator) str(member string, s *string, minLen, maxLen int) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	if n < minLen {
		v.add(member, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if n > maxLen {
		v.add(member, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
}

// reqStr checks a required string's presence and length.
func (v *validator) reqStr(member string, s *string, minLen, maxLen int) {
	v.required(member, s != nil)
	v.str(member, s, minLen, maxLen)
}

// blob checks an optional blob's length in bytes.
func (v *validator) blob(member string, b []byte, minLen, maxLen int) {
	if b == nil {
		return
	}
	if len(b) < minLen {
		v.add(member, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if len(b) > maxLen {
		v.add(member, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
}

// reqBlob checks a required blob's presence and length.
func (v *validator) reqBlob(member string, b []byte, minLen, maxLen int) {
	v.required(member, b != nil)
	v.blob(member, b, minLen, maxLen)
}

// intRange checks an optional integer's range.
func (v *validator) intRange(member string, n *int64, lo, hi int64) {
	if n == nil {
		return
	}
	if *n < lo {
		v.add(member, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	}
	if *n > hi {
		v.add(member, fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
}

// enum checks that an optional string is one of allowed.
func (v *validator) enum(member string, s *string, allowed ...string) {
	if s != nil && !slices.Contains(allowed, *s) {
		v.add(member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
	}
}

// pattern checks an optional string against a regular expression.
func (v *validator) pattern(member string, s *string, re *regexp.Regexp) {
	if s != nil && !re.MatchString(*s) {
		v.add(member, "Member must satisfy regular expression pattern: "+re.String())
	}
}

// count checks a list's length.
func (v *validator) count(member string, n, lo, hi int) {
	if n < lo {
		v.add(member, fmt.Sprintf("Member must have length greater than or equal to %d", lo))
	}
	if n > hi {
		v.add(member, fmt.Sprintf("Member must have length less than or equal to %d", hi))
	}
}

// err returns the ValidationException, or nil when nothing failed.
func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return errf(codeValidation, "1 validation error detected: %s", v.errs[0])
	}
	return errf(codeValidation, "%d validation errors detected: %s", len(v.errs), strings.Join(v.errs, "; "))
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// orDefault returns *s, or def when s is nil.
func orDefault(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// intOr returns *n, or def when n is nil.
func intOr(n *int64, def int64) int64 {
	if n == nil {
		return def
	}
	return *n
}
