package envfile

import "strings"

// quoteStyle picks how to write value on a line currently written in style
// current (0 for unquoted, or the quote byte):
//
//   - unquoted stays unquoted if every byte of value is "safe" (see
//     safeUnquoted); the empty value is safe;
//   - single quotes stay if value holds no single quote;
//   - everything else is written in double quotes, with escapes.
func quoteStyle(value string, current byte) byte {
	switch {
	case current == 0 && safeUnquoted(value):
		return 0
	case current == '\'' && !strings.ContainsRune(value, '\''):
		return '\''
	}
	return '"'
}

// safeUnquoted reports whether value reads the same unquoted to this
// package, to systemd and to a POSIX shell: ASCII letters, digits and
// _ - . / : , @ % + = ^ only. Anything else (whitespace, '#', quotes, '$',
// '\', '`', '~', shell metacharacters, control and non-ASCII bytes) needs
// quotes.
func safeUnquoted(value string) bool {
	for i := 0; i < len(value); i++ {
		c := value[i]
		if !isNameByte(c) && !strings.ContainsRune("-./:,@%+=^", rune(c)) {
			return false
		}
	}
	return true
}

// quoteValue writes value in the given style, which must be one quoteStyle
// allows for it.
func quoteValue(value string, style byte) string {
	switch style {
	case 0:
		return value
	case '\'':
		return "'" + value + "'"
	}
	return `"` + escapeDouble(value) + `"`
}

// escapeDouble escapes value for double quotes: a backslash before '"',
// '$' and '`'; a backslash itself only where the next byte would otherwise
// be read as escaped (before '"', '\\', '$', '`' or at the end): systemd and
// a shell keep a backslash before any other byte as it is, so "\n" stays. A
// newline has no escape systemd reads back as one, so Set refuses values
// with one.
func escapeDouble(value string) string {
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '"' || c == '$' || c == '`':
			b.WriteByte('\\')
		case c == '\\' && (i+1 == len(value) || strings.IndexByte("\"\\$`", value[i+1]) >= 0):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
