package envfile

import "strings"

// File is a parsed environment file. It keeps every line as written, so that
// Bytes reproduces the input exactly until an edit changes a line. The zero
// value is an empty file. A File is not safe for concurrent use.
type File struct {
	lines []line
}

// Bytes renders the file.
func (f *File) Bytes() []byte {
	var b strings.Builder
	for _, l := range f.lines {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return []byte(b.String())
}

// Clone returns an independent copy of f, for editing while keeping the
// original to Diff against.
func (f *File) Clone() *File {
	return &File{lines: append([]line(nil), f.lines...)}
}

// Get returns the value of the last active (not commented out) assignment
// of key, as a shell sourcing the file would see it.
func (f *File) Get(key string) (value string, ok bool) {
	if i := f.last(key); i >= 0 {
		return f.lines[i].a.value, true
	}
	return "", false
}

// Keys returns the names that have an active assignment, each once, in order
// of first appearance.
func (f *File) Keys() []string {
	var keys []string
	seen := map[string]bool{}
	for _, l := range f.lines {
		if l.kind == kindAssign && !seen[l.a.key] {
			seen[l.a.key] = true
			keys = append(keys, l.a.key)
		}
	}
	return keys
}

// Set makes key's value be value. If key has an active assignment, the last
// one is rewritten in place, keeping its indentation, trailing whitespace
// and, where the value allows, its quoting style (see quoteValue). Otherwise a line "KEY=value" is appended, using the file's
// line ending and first terminating the last line if it has no line ending.
// Set reports whether the file changed; setting the current value changes
// nothing. Set panics if key is not a valid name (see ValidKey) or value
// holds a newline or NUL, which no line of an env file can hold the way
// systemd reads it (callers refuse such values first, with an error).
func (f *File) Set(key, value string) bool {
	if !ValidKey(key) {
		panic("envfile: Set with invalid variable name")
	}
	if !ValidValue(value) {
		panic("envfile: Set with a value holding a newline or NUL")
	}
	i := f.last(key)
	if i < 0 {
		f.appendAssignment(key, value)
		return true
	}
	if f.lines[i].a.value == value {
		return false
	}
	f.lines[i].setValue(value)
	return true
}

// setValue rewrites an assignment line with a new value.
func (l *line) setValue(value string) {
	l.a.quote = quoteStyle(value, l.a.quote)
	l.a.value = value
	l.text = l.a.head + quoteValue(value, l.a.quote) + l.a.tail
}

// appendAssignment adds a line "KEY=value" at the end of the file.
func (f *File) appendAssignment(key, value string) {
	eol := f.lineEnding()
	if n := len(f.lines); n > 0 && f.lines[n-1].eol == "" {
		f.lines[n-1].eol = eol
	}
	l := line{eol: eol, kind: kindAssign, a: assignment{key: key, head: key + "="}}
	l.setValue(value)
	f.lines = append(f.lines, l)
}

// lineEnding returns the line ending of the first terminated line, or "\n".
func (f *File) lineEnding() string {
	for _, l := range f.lines {
		if l.eol != "" {
			return l.eol
		}
	}
	return "\n"
}

// Unset removes every active assignment of key and reports whether there
// was any. Comments and other lines are kept.
func (f *File) Unset(key string) bool {
	kept := f.lines[:0:0]
	for _, l := range f.lines {
		if !l.assigns(key) {
			kept = append(kept, l)
		}
	}
	changed := len(kept) != len(f.lines)
	f.lines = kept
	return changed
}

// Comment turns every active assignment of key into a comment by inserting
// "# " after the line's indentation, so "KEY=v" becomes "# KEY=v". It
// reports whether there was any assignment to comment out.
func (f *File) Comment(key string) bool {
	changed := false
	for i := range f.lines {
		if l := &f.lines[i]; l.assigns(key) {
			indent := l.text[:len(l.text)-len(trimLeftSpace(l.text))]
			l.text = indent + "# " + l.text[len(indent):]
			l.kind, l.a = kindComment, assignment{}
			changed = true
		}
	}
	return changed
}

// assigns reports whether l is an active assignment of key.
func (l *line) assigns(key string) bool {
	return l.kind == kindAssign && l.a.key == key
}

// last returns the index of the last active assignment of key, or -1.
func (f *File) last(key string) int {
	for i := len(f.lines) - 1; i >= 0; i-- {
		if f.lines[i].assigns(key) {
			return i
		}
	}
	return -1
}

// commented counts comment lines that hold an assignment of key, such as
// "# KEY=v" or "#export KEY=v".
func (f *File) commented(key string) int {
	n := 0
	for _, l := range f.lines {
		if l.kind != kindComment {
			continue
		}
		body := trimLeftSpace(trimLeftSpace(l.text)[1:])
		if a, reason := parseAssignment(body); reason == "" && a.key == key {
			n++
		}
	}
	return n
}

// ValidValue reports whether an env file can hold value: it holds no
// newline and no NUL.
func ValidValue(value string) bool { return !strings.ContainsAny(value, "\n\x00") }
