package kes

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"sync"

	"github.com/cutover/cutover/providers/keskey"
)

// How KES v0.24.0 lists keys, and why List walks a tree of prefixes.
//
// GET /v1/key/list/<pattern> takes a literal name prefix ("*" alone means
// every key; a '*' anywhere else is a literal character, so "my-*" matches
// nothing) and answers {"names": [...], "continue_at": "..."}: the first
// 1024 names with that prefix in byte order and, when there are more, the
// first name that did not fit. There is no "start after" parameter: asking
// for continue_at as the next pattern lists the names that *start with* it
// (the SDK's ListIter does that, and silently stops after the second page).
// Patterns must also be valid names except for a trailing '*': a prefix
// ending in '-' (or "_" alone) is refused with 400.
//
// So a truncated page of prefix P is continued by listing P's children,
// P+c for every character c a name may contain, skipping every child whose
// names all sort before continue_at (they were on the page). A child that
// is not a valid pattern (ending in '-') is not listed itself; its own
// children are. A page's names below the bound inherited from the parent
// were already yielded, which keeps every name yielded exactly once. On
// a store of at most 1024 matching keys this is one request.
//
// Below a listed prefix the walk only descends where the page proved there
// are more names. The costly case is names starting with '_': neither "_"
// nor "_-", "_--", ... are patterns, so when the store holds more than
// 1024 keys and the first page ends before '_', proving there are no
// other such names takes 62 requests per possible run of dashes (about
// 4,900 small requests), sent 16 at a time.

// nameChars are the characters of KES key names, in byte order.
const nameChars = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// prefetchers bounds the concurrent list requests of one walk.
const prefetchers = 16

// errStop ends a walk when the consumer stops ranging.
var errStop = errors.New("stop")

// listResponse is the answer of GET /v1/key/list/<pattern>.
type listResponse struct {
	Names      []string `json:"names"`
	ContinueAt string   `json:"continue_at"`
}

// List yields every key name matching pattern (a path.Match glob; "" or
// "*" is everything), following every page as described above. A
// malformed pattern (wrapping path.ErrBadPattern) or a failed request is
// yielded as an error and ends the sequence.
func (s *Store) List(ctx context.Context, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		match, err := keskey.Matcher(pattern)
		if err != nil {
			yield("", err)
			return
		}
		w := &walker{ctx: ctx, s: s, target: keskey.LiteralPrefix(pattern)}
		w.emit = func(name string) bool { return !match(name) || yield(name, nil) }
		start, ok := startPrefix(w.target)
		if !ok {
			return // no KES name can start with the pattern's prefix
		}
		if err := w.walk(start, ""); err != nil && !errors.Is(err, errStop) {
			yield("", err)
		}
	}
}

// walker lists the names that start with target.
type walker struct {
	ctx    context.Context
	s      *Store
	target string
	emit   func(string) bool // false: stop
}

// walk yields the names with prefix p that sort at or after lo; p is ""
// (every key) or a valid pattern.
func (w *walker) walk(p, lo string) error {
	page, err := w.s.listPage(w.ctx, p)
	if err != nil {
		return err
	}
	return w.visit(p, lo, page)
}

// visit yields the names of p's first page that sort at or after lo,
// then walks p's children if the page was truncated.
func (w *walker) visit(p, lo string, page listResponse) error {
	for _, name := range page.Names {
		if name >= lo && strings.HasPrefix(name, p) && !w.emit(name) {
			return errStop
		}
	}
	if page.ContinueAt == "" {
		return nil
	}
	return w.children(p, max(lo, page.ContinueAt))
}

// children walks p+c for every name character c whose names may still
// be missing (at or after lo) and may start with target. The first pages
// of the children are fetched concurrently: below an unlistable prefix
// (see above) every child must be asked, most of them for nothing.
func (w *walker) children(p, lo string) error {
	var kids []string
	for _, c := range nameChars {
		if q := p + string(c); w.wanted(q, lo) {
			kids = append(kids, q)
		}
	}
	pages, err := w.prefetch(kids)
	if err != nil {
		return err
	}
	for _, q := range kids {
		if page, listable := pages[q]; listable {
			err = w.visit(q, lo, page)
		} else {
			err = w.children(q, lo) // q ends in '-' or is "_": not a pattern KES takes
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prefetch lists the first page of every listable prefix of qs, at most
// prefetchers at a time, and returns them by prefix.
func (w *walker) prefetch(qs []string) (map[string]listResponse, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, prefetchers)
		pages = make(map[string]listResponse, len(qs))
	)
	for _, q := range qs {
		if keskey.ValidName(q) != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			page, err := w.s.listPage(w.ctx, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			pages[q] = page
		}()
	}
	wg.Wait()
	return pages, first
}

// wanted reports whether names with prefix q may exist, match target and
// not have been yielded yet (some sort at or after lo).
func (w *walker) wanted(q, lo string) bool {
	switch {
	case len(q) > keskey.MaxNameLength, q[0] == '-':
		return false
	case !strings.HasPrefix(q, w.target) && !strings.HasPrefix(w.target, q):
		return false
	}
	return q >= lo || strings.HasPrefix(lo, q)
}

// startPrefix is the longest prefix of target that KES takes as a list
// pattern ("" meaning all keys); ok is false if no name can start with
// target.
func startPrefix(target string) (string, bool) {
	for i, c := range target {
		if !strings.ContainsRune(nameChars, c) || (i == 0 && c == '-') {
			return "", false
		}
	}
	p := target[:min(len(target), keskey.MaxNameLength)]
	for p != "" && keskey.ValidName(p) != nil {
		p = p[:len(p)-1]
	}
	return p, true
}

// listPage lists the first page of names with prefix p ("" for all).
func (s *Store) listPage(ctx context.Context, p string) (listResponse, error) {
	pattern := p
	if pattern == "" {
		pattern = "*"
	}
	var page listResponse
	err := s.call(ctx, http.MethodGet, apiPath(routeList, pattern), nil, &page)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadGateway {
		err = fmt.Errorf("%w (KES v0.24.0 on Vault also answers this when its prefix holds no key at all)", err)
	}
	return page, err
}
