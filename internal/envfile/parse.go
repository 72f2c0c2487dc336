package envfile

import (
	"bytes"
	"fmt"
	"strings"
)

// ParseError reports an invalid line. Reason never contains the line's value
// or name, so the error is safe to log.
type ParseError struct {
	Line   int    // 1-based line number
	Reason string // short description of the problem
}

// Error returns "line N: reason".
func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Reasons reported in ParseError.Reason. Invalid names are reported as
// reasonBadName followed by a description of the first offending character.
const (
	reasonNoEquals       = `missing "="`
	reasonNoName         = "missing variable name"
	reasonBadName        = "invalid variable name: "
	reasonOpenSingle     = "unterminated single-quoted value"
	reasonOpenDouble     = "unterminated double-quoted value"
	reasonAfterQuote     = "text after the closing quote: systemd would add it to the value (it has no trailing comments); put a comment on a line of its own"
	reasonBackslash      = "backslash in an unquoted value: systemd drops it (or joins the next line); quote the value with single quotes"
	reasonExport         = `"export" before the name: systemd ignores such a line; remove "export"`
	reasonNameStartDigit = "starts with a digit"
)

type lineKind uint8

const (
	kindBlank lineKind = iota
	kindComment
	kindAssign
)

// line is one line of a file: its raw text (without line ending), its line
// ending ("\n", "\r\n" or "" for a last line without one) and, for an
// assignment, the parsed parts.
type line struct {
	text string
	eol  string
	kind lineKind
	a    assignment
}

// assignment is a parsed KEY=VALUE line. head+token+tail == the line's text,
// where token is the value as written (with quotes and escapes).
type assignment struct {
	key   string
	value string // decoded value
	head  string // indentation, name, '=', leading whitespace
	quote byte   // 0 (unquoted), '\'' or '"'
	tail  string // trailing whitespace
}

// Parse parses an environment file. It returns a *ParseError for the first
// invalid line.
func Parse(data []byte) (*File, error) {
	f := &File{}
	for n := 1; len(data) > 0; n++ {
		var l line
		l, data = nextLine(data)
		if err := classify(&l); err != "" {
			return nil, &ParseError{Line: n, Reason: err}
		}
		f.lines = append(f.lines, l)
	}
	return f, nil
}

// nextLine splits the first line off data.
func nextLine(data []byte) (line, []byte) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return line{text: string(data)}, nil
	}
	text, eol := data[:i], "\n"
	if len(text) > 0 && text[len(text)-1] == '\r' {
		text, eol = text[:len(text)-1], "\r\n"
	}
	return line{text: string(text), eol: eol}, data[i+1:]
}

// classify sets the kind of l and parses assignments. It returns a reason
// if the line is invalid.
func classify(l *line) string {
	rest := trimLeftSpace(l.text)
	switch {
	case rest == "":
		l.kind = kindBlank
	case rest[0] == '#' || rest[0] == ';':
		l.kind = kindComment
	default:
		a, reason := parseAssignment(l.text)
		if reason != "" {
			return reason
		}
		l.kind, l.a = kindAssign, a
	}
	return ""
}

// parseAssignment parses text as a KEY=VALUE line.
func parseAssignment(text string) (assignment, string) {
	rest := trimLeftSpace(text)
	if hasExport(rest) {
		return assignment{}, reasonExport
	}
	eq := strings.IndexByte(rest, '=')
	if eq < 0 {
		return assignment{}, reasonNoEquals
	}
	key := trimRightSpace(rest[:eq])
	if reason := checkName(key); reason != "" {
		return assignment{}, reason
	}
	start := len(text) - len(rest) + eq + 1 // just after '='
	a, reason := parseValue(text[start:])
	a.key, a.head = key, text[:start]+a.head
	return a, reason
}

// hasExport reports whether s starts with the shell's "export" keyword
// followed by whitespace. systemd reads "export NAME" as an invalid name and
// ignores the line, so such a line would mean a variable to a shell and to
// this package but none to the service.
// "export =1" assigns the variable named export, to systemd as here.
func hasExport(s string) bool {
	const kw = "export"
	if len(s) <= len(kw) || !strings.HasPrefix(s, kw) || !isSpace(s[len(kw)]) {
		return false
	}
	rest := trimLeftSpace(s[len(kw):])
	return rest != "" && rest[0] != '='
}

// checkName returns a reason if name is not a valid variable name. The
// reason describes the problem without quoting the name.
func checkName(name string) string {
	if name == "" {
		return reasonNoName
	}
	if isDigit(name[0]) {
		return reasonBadName + reasonNameStartDigit
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return reasonBadName + describeByte(name[i])
		}
	}
	return ""
}

// describeByte names an invalid name character without revealing more of
// the line than that character.
func describeByte(c byte) string {
	switch {
	case c == ' ' || c == '\t':
		return "contains whitespace"
	case c >= 0x80:
		return "contains a non-ASCII character"
	case c < 0x20 || c == 0x7f:
		return "contains a control character"
	}
	return fmt.Sprintf("contains %q", string(c))
}

// parseValue parses what follows '=': leading whitespace (returned as head),
// the value token and the tail.
func parseValue(s string) (assignment, string) {
	body := trimLeftSpace(s)
	lead := s[:len(s)-len(body)]
	if body == "" || (body[0] != '"' && body[0] != '\'') {
		return parseUnquoted(s)
	}
	a, reason := parseQuoted(body)
	a.head = lead
	return a, reason
}

// parseUnquoted parses an unquoted value: everything to the end of the
// line, surrounding whitespace removed, '#' included (systemd has no
// trailing comments). If the value is empty, all whitespace goes to the
// tail.
func parseUnquoted(s string) (assignment, string) {
	v := trimRightSpace(s)
	tail := s[len(v):]
	value := trimLeftSpace(v)
	if strings.IndexByte(value, '\\') >= 0 {
		return assignment{}, reasonBackslash
	}
	return assignment{value: value, head: v[:len(v)-len(value)], tail: tail}, ""
}

// parseQuoted parses a quoted value starting at s[0] and checks the tail.
func parseQuoted(s string) (assignment, string) {
	q := s[0]
	value, n, reason := scanQuoted(q, s[1:])
	if reason != "" {
		return assignment{}, reason
	}
	tail := s[1+n:]
	if !validTail(tail) {
		return assignment{}, reasonAfterQuote
	}
	return assignment{value: value, quote: q, tail: tail}, ""
}

// scanQuoted decodes a quoted value; s starts after the opening quote. It
// returns the value and the number of bytes consumed, closing quote included.
func scanQuoted(q byte, s string) (string, int, string) {
	if q == '\'' {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			return "", 0, reasonOpenSingle
		}
		return s[:i], i + 1, ""
	}
	value, n, ok := scanDouble(s)
	if !ok {
		return "", 0, reasonOpenDouble
	}
	return value, n, ""
}

// scanDouble decodes the body of a double-quoted value.
func scanDouble(s string) (string, int, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			if i+1 == len(s) {
				return "", 0, false
			}
			i++
			b.WriteString(unescape(s[i]))
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// unescape returns what a backslash followed by c stands for in double
// quotes, as in systemd and a POSIX shell: \" \\ \$ and \` stand for the
// character; before any other character (n included) the backslash stays.
func unescape(c byte) string {
	switch c {
	case '"', '\\', '$', '`':
		return string([]byte{c})
	}
	return string([]byte{'\\', c}) // bytes: string(c) of a byte >= 0x80 would encode a rune
}

// validTail reports whether s may follow a closing quote: whitespace only.
func validTail(s string) bool { return trimLeftSpace(s) == "" }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isNameByte(c byte) bool {
	return c == '_' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func trimLeftSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

func trimRightSpace(s string) string {
	i := len(s)
	for i > 0 && isSpace(s[i-1]) {
		i--
	}
	return s[:i]
}

// ValidKey reports whether key is a valid variable name:
// [A-Za-z_][A-Za-z0-9_]*.
func ValidKey(key string) bool {
	return checkName(key) == ""
}
