package awsemu

import (
	"encoding/base64"
	"slices"
	"strings"
)

// A listing is a page of items sorted by a string key. Markers name the
// first item of the next page rather than an offset, so pages stay
// consistent while items are added or removed between calls.
type listing[T any] struct {
	items []T            // all items, in display order
	key   func(T) string // sort key, unique per item
	desc  bool           // display order is descending by key
	scope string         // what the marker is valid for
}

// sortedListing sorts items by key (descending when desc).
func sortedListing[T any](items []T, key func(T) string, desc bool, scope string) listing[T] {
	slices.SortFunc(items, func(a, b T) int {
		c := strings.Compare(key(a), key(b))
		if desc {
			return -c
		}
		return c
	})
	return listing[T]{items: items, key: key, desc: desc, scope: scope}
}

// page returns up to limit items starting at marker ("" for the first
// page) and the marker of the next page ("" when this is the last). ok is
// false when marker was not issued for this listing.
func (l listing[T]) page(marker string, limit int) (items []T, next string, ok bool) {
	start := 0
	if marker != "" {
		from, valid := decodeMarker(l.scope, marker)
		if !valid {
			return nil, "", false
		}
		start = l.index(from)
	}
	end := min(start+limit, len(l.items))
	if end < len(l.items) {
		next = encodeMarker(l.scope, l.key(l.items[end]))
	}
	return l.items[start:end], next, true
}

// index is the position of the first item at or after key.
func (l listing[T]) index(key string) int {
	i, _ := slices.BinarySearchFunc(l.items, key, func(item T, k string) int {
		c := strings.Compare(l.key(item), k)
		if l.desc {
			return -c
		}
		return c
	})
	return i
}

func encodeMarker(scope, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + key))
}

func decodeMarker(scope, marker string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(marker)
	if err != nil {
		return "", false
	}
	s, key, ok := strings.Cut(string(b), "\x00")
	return key, ok && s == scope
}
