// Package termsafe makes text safe to print on a terminal: control
// characters that a terminal would act on (ESC and so CSI and OSC
// sequences, BEL, backspace, carriage return, the other C0 controls, DEL
// and the C1 controls U+0080 to U+009F) are replaced by a visible escape
// such as \x1b or \u009b. Newline and tab pass unchanged; so does every
// other byte, valid UTF-8 or not.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// String returns s with its control characters escaped.
func String(s string) string {
	if !needsEscape(s) {
		return s
	}
	var sb strings.Builder
	w := NewWriter(&sb)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return sb.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if control(s[i]) || s[i] == 0xc2 {
			return true
		}
	}
	return false
}

// control reports whether b is a C0 control other than newline and tab,
// or DEL.
func control(b byte) bool { return (b < 0x20 && b != '\n' && b != '\t') || b == 0x7f }

// Writer escapes a byte stream into another writer. A C1 control split
// between two writes (its UTF-8 encoding is two bytes) is still escaped:
// a trailing 0xC2 byte waits for the next write or Close.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	pending bool // a 0xC2 byte ends the previous write
	buf     []byte
}

// NewWriter returns a Writer escaping into w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p into the underlying writer; it returns len(p) or the
// underlying writer's error.
func (e *Writer) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.buf[:0]
	for _, b := range p {
		if e.pending {
			e.pending = false
			if b >= 0x80 && b <= 0x9f {
				out = fmt.Appendf(out, `\u%04x`, b)
				continue
			}
			out = append(out, 0xc2)
		}
		switch {
		case b == 0xc2:
			e.pending = true
		case control(b):
			out = fmt.Appendf(out, `\x%02x`, b)
		default:
			out = append(out, b)
		}
	}
	e.buf = out
	if len(out) > 0 {
		if _, err := e.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Close writes a byte the stream held back. It does not close the
// underlying writer.
func (e *Writer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.pending {
		return nil
	}
	e.pending = false
	_, err := e.w.Write([]byte{0xc2})
	return err
}
