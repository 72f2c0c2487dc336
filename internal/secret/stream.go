package secret

import (
	"io"
	"sync"
)

// Stream masks a byte stream: a secret is found whatever the sizes of the
// writes that carry it (split across two writes, across a 4 KiB pipe
// buffer). It holds back the bytes that could still be the start of a
// secret (see Set.Holdback) and writes them on Close, masked or not:
// no byte is dropped. Close must be called once the stream ends.
//
// A Stream knows the values its Set held when it was made. It is safe for
// concurrent use; concurrent writers' bytes are interleaved as they come.
type Stream struct {
	mu     sync.Mutex
	w      io.Writer
	m      *matcher // nil: nothing to mask, bytes pass through
	hold   int64
	state  int32
	n      int64  // bytes consumed
	pend   []byte // raw bytes at offsets [base, n) not yet written
	base   int64
	spans  []span // merged masked ranges, sorted and disjoint
	cands  []span // short matches waiting for the byte after them
	hist   [4]byte
	out    []byte // reused output buffer
	err    error
	closed bool
}

// span is the stream range [s, e) of a secret (or of overlapping secrets).
// emitted is set once its Mask was written.
type span struct {
	s, e    int64
	emitted bool
}

// Stream returns a masking stream writing to w.
func (s *Set) Stream(w io.Writer) *Stream {
	st := &Stream{w: w}
	if s != nil {
		st.m = s.currentMatcher()
	}
	if st.m != nil {
		st.hold = int64(holdback(st.m))
	}
	return st
}

// holdback is how many trailing bytes a stream keeps: the longest secret
// minus one byte (it may be the start of that secret), or a short value's
// length while the byte after it is not known yet.
func holdback(m *matcher) int {
	return max(m.longest-1, m.maxShort)
}

// Write masks p into the stream. It returns len(p) unless the underlying
// writer failed, whose error it then returns (and returns again after).
func (st *Stream) Write(p []byte) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return 0, st.err
	}
	if st.closed {
		return 0, io.ErrClosedPipe
	}
	if st.m == nil {
		if _, err := st.w.Write(p); err != nil {
			st.err = err
			return 0, err
		}
		return len(p), nil
	}
	st.pend = append(st.pend, p...)
	for _, b := range p {
		st.feed(b)
	}
	if err := st.emit(st.n - st.hold); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes what the stream held back, masked, and ends it. Closing
// twice is harmless. It does not close the underlying writer.
func (st *Stream) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || st.m == nil {
		st.closed = true
		return st.err
	}
	st.closed = true
	for _, c := range st.cands { // the end of the stream ends a token
		st.addSpan(c.s, c.e)
	}
	st.cands = nil
	return st.emit(st.n)
}

// feed reads one byte: confirms the short matches the byte ends, steps
// the automaton and records what ends here.
func (st *Stream) feed(b byte) {
	if len(st.cands) > 0 {
		if !isWord(b) {
			for _, c := range st.cands {
				st.addSpan(c.s, c.e)
			}
		}
		st.cands = st.cands[:0]
	}
	st.state = st.m.step(st.state, b)
	st.hist[st.n%int64(len(st.hist))] = b
	st.n++
	nd := &st.m.nodes[st.state]
	if nd.long > 0 {
		st.addSpan(st.n-int64(nd.long), st.n)
	}
	for k := int64(1); nd.short != 0 && k < ShortLength; k++ {
		if nd.short&(1<<(k-1)) == 0 {
			continue
		}
		start := st.n - k
		if start == 0 || !isWord(st.hist[(start-1)%int64(len(st.hist))]) {
			st.cands = append(st.cands, span{s: start, e: st.n})
		}
	}
}

// addSpan records [s, e) as masked, merging it with the ranges it
// overlaps. e is never before the end of a recorded range.
func (st *Stream) addSpan(s, e int64) {
	emitted := false
	for len(st.spans) > 0 {
		last := st.spans[len(st.spans)-1]
		if last.e <= s {
			break
		}
		s, emitted = min(s, last.s), emitted || last.emitted
		st.spans = st.spans[:len(st.spans)-1]
	}
	st.spans = append(st.spans, span{s: s, e: e, emitted: emitted})
}

// emit writes everything before frontier f that no later match can
// change: raw bytes, and Mask for each range that starts before f. A
// range that starts before f but may still grow has its Mask written and
// its bytes dropped; the bytes after it wait until it is final.
func (st *Stream) emit(f int64) error {
	out := st.out[:0]
	cur := st.base // raw bytes before cur are written or masked
	open := false
	for len(st.spans) > 0 && st.spans[0].s < f {
		sp := &st.spans[0]
		if !sp.emitted {
			out = append(out, st.pend[cur-st.base:sp.s-st.base]...)
			out = append(out, Mask...)
			sp.emitted = true
		}
		cur = max(cur, sp.e)
		if sp.e > f {
			open = true
			break
		}
		st.spans = st.spans[1:]
	}
	if !open && f > cur {
		out = append(out, st.pend[cur-st.base:f-st.base]...)
		cur = f
	}
	st.drop(cur)
	st.out = out
	return st.write(out)
}

// drop forgets the raw bytes before offset to.
func (st *Stream) drop(to int64) {
	if to <= st.base {
		return
	}
	st.pend = append(st.pend[:0], st.pend[to-st.base:]...)
	st.base = to
}

func (st *Stream) write(out []byte) error {
	if len(out) == 0 {
		return nil
	}
	if _, err := st.w.Write(out); err != nil {
		st.err = err
		return err
	}
	return nil
}

// isWord reports whether b can be part of a word a short value must not
// be glued to: an ASCII letter or digit, '_', or any byte of a non-ASCII
// UTF-8 character.
func isWord(b byte) bool {
	return b == '_' || b >= 0x80 || ('0' <= b && b <= '9') || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}
