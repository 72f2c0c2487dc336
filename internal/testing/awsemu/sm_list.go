package awsemu

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// secretEntry is the SecretListEntry structure; DescribeSecret answers
// the same members, but with VersionIdsToStages.
type secretEntry struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            *string             `json:"Description,omitempty"`
	KmsKeyId               string              `json:"KmsKeyId,omitempty"`
	LastChangedDate        epochTime           `json:"LastChangedDate"`
	LastAccessedDate       *epochTime          `json:"LastAccessedDate,omitempty"`
	DeletedDate            *epochTime          `json:"DeletedDate,omitempty"`
	Tags                   []smTag             `json:"Tags,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
	VersionIdsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
	CreatedDate            epochTime           `json:"CreatedDate"`
}

// entry renders s; describe selects DescribeSecret's version member.
func (s *secret) entry(describe bool) secretEntry {
	out := secretEntry{ARN: s.ARN, Name: s.Name, Description: s.Description, KmsKeyId: s.KmsKeyID,
		LastChangedDate: epochTime(s.Changed), LastAccessedDate: epochPtr(s.Accessed),
		DeletedDate: epochPtr(s.DeletedDate), Tags: s.Tags, CreatedDate: epochTime(s.Created)}
	if describe {
		out.VersionIdsToStages = s.stagesToVersions()
	} else {
		out.SecretVersionsToStages = s.stagesToVersions()
	}
	return out
}

func (e *Emulator) describeSecret(in *secretIDInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	s, err := e.findSecret(*in.SecretId)
	if err != nil {
		return nil, err
	}
	return s.entry(true), nil
}

type smFilter struct {
	Key    *string  `json:"Key"`
	Values []string `json:"Values"`
}

type listSecretsInput struct {
	IncludePlannedDeletion *bool
	MaxResults             *int64
	NextToken              *string
	Filters                []smFilter
	SortOrder              *string
	SortBy                 *string
}

type listSecretsOutput struct {
	SecretList []secretEntry `json:"SecretList"`
	NextToken  string        `json:"NextToken,omitempty"`
}

var (
	filterKeys         = []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}
	filterValuePattern = regexp.MustCompile(`^!?[a-zA-Z0-9 :_@/+=.\-!]*$`)
)

func (in *listSecretsInput) validate() error {
	var v validator
	v.intRange("maxResults", in.MaxResults, 1, 100)
	v.str("nextToken", in.NextToken, 1, 4096)
	v.enum("sortBy", in.SortBy, "created-date", "last-accessed-date", "last-changed-date", "name")
	v.enum("sortOrder", in.SortOrder, "asc", "desc")
	for _, f := range in.Filters {
		v.required("filters.member.key", f.Key != nil)
		v.enum("filters.member.key", f.Key, filterKeys...)
		v.count("filters.member.values", len(f.Values), 1, 10)
		for i := range f.Values {
			v.str("filters.member.values.member", &f.Values[i], 1, 512)
			v.pattern("filters.member.values.member", &f.Values[i], filterValuePattern)
		}
	}
	return v.err()
}

// scope names what a NextToken is valid for: the same filters and order.
func (in *listSecretsInput) scope() string {
	b, _ := json.Marshal([]any{in.Filters, in.IncludePlannedDeletion, in.SortBy, in.SortOrder})
	sum := sha256.Sum256(b)
	return "ListSecrets:" + hex.EncodeToString(sum[:8])
}

func (e *Emulator) listSecrets(in *listSecretsInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var entries []secretEntry
	for _, s := range e.st.Secrets {
		if (s.DeletedDate == nil || isTrue(in.IncludePlannedDeletion)) && e.matchesAll(s, in.Filters) {
			entries = append(entries, s.entry(false))
		}
	}
	key := secretSortKey(orDefault(in.SortBy, "created-date"))
	l := sortedListing(entries, key, orDefault(in.SortOrder, "asc") == "desc", in.scope())
	page, next, ok := l.page(deref(in.NextToken), int(intOr(in.MaxResults, 100)))
	if !ok {
		return nil, errf("InvalidNextTokenException", "The NextToken value is not valid.")
	}
	if page == nil {
		page = []secretEntry{}
	}
	return listSecretsOutput{SecretList: page, NextToken: next}, nil
}

// secretSortKey returns the sort key for SortBy; dates sort by time, then
// name, so keys are unique.
func secretSortKey(by string) func(secretEntry) string {
	stamp := func(t time.Time, name string) string { return fmt.Sprintf("%020d\x00%s", t.UnixNano(), name) }
	switch by {
	case "name":
		return func(s secretEntry) string { return s.Name }
	case "last-changed-date":
		return func(s secretEntry) string { return stamp(time.Time(s.LastChangedDate), s.Name) }
	case "last-accessed-date":
		return func(s secretEntry) string {
			if s.LastAccessedDate == nil {
				return stamp(time.Unix(0, 0), s.Name)
			}
			return stamp(time.Time(*s.LastAccessedDate), s.Name)
		}
	}
	return func(s secretEntry) string { return stamp(time.Time(s.CreatedDate), s.Name) }
}

// matchesAll applies the filters: all must match.
func (e *Emulator) matchesAll(s *secret, filters []smFilter) bool {
	for _, f := range filters {
		if !e.matches(s, *f.Key, f.Values) {
			return false
		}
	}
	return true
}

// matches applies one filter: some positive value (if any) matches and no
// negated ("!"-prefixed) value does.
func (e *Emulator) matches(s *secret, key string, values []string) bool {
	anyPositive, matched := false, false
	for _, val := range values {
		if neg, ok := strings.CutPrefix(val, "!"); ok {
			if e.matchValue(s, key, neg) {
				return false
			}
			continue
		}
		anyPositive = true
		matched = matched || e.matchValue(s, key, val)
	}
	return matched || !anyPositive
}

// matchValue reports whether an attribute selected by key starts with val:
// case-sensitively, except for description and all.
func (e *Emulator) matchValue(s *secret, key, val string) bool {
	switch key {
	case "name":
		return strings.HasPrefix(s.Name, val)
	case "description":
		return hasPrefixFold(deref(s.Description), val)
	case "tag-key", "tag-value":
		for _, t := range s.Tags {
			if strings.HasPrefix(tagPart(t, key), val) {
				return true
			}
		}
	case "primary-region":
		return strings.HasPrefix(e.cfg.Region, val)
	case "all":
		return matchAll(s, val)
	}
	return false
}

func tagPart(t smTag, key string) string {
	if key == "tag-key" {
		return *t.Key
	}
	return *t.Value
}

// matchAll reports whether every word of val starts, case-insensitively,
// a word of the name, the description, a tag key or a tag value (or one
// of them whole).
func matchAll(s *secret, val string) bool {
	attrs := []string{s.Name, deref(s.Description)}
	for _, t := range s.Tags {
		attrs = append(attrs, *t.Key, *t.Value)
	}
	var words []string
	for _, a := range attrs {
		words = append(words, a)
		words = append(words, strings.FieldsFunc(a, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})...)
	}
	for _, w := range strings.Fields(val) {
		if !slices.ContainsFunc(words, func(a string) bool { return hasPrefixFold(a, w) }) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isTrue(b *bool) bool { return b != nil && *b }
