package termsafe

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":                      "plain\ttext\n",
		"\x1b[2J\x1b[31mred":                 `\x1b[2J\x1b[31mred`,
		"\x1b]0;title\x07":                   `\x1b]0;title\x07`,
		"bar\r50%\b\x00\x7f":                 `bar\x0d50%\x08\x00\x7f`,
		"csi \u009b31m, nel \u0085":          `csi \u009b31m, nel \u0085`,
		"é ü \u00a0 ok":                      "é ü \u00a0 ok",
		"invalid \xc2 \xc2\xc2\x9b \xff\x9b": "invalid \xc2 \xc2\\u009b \xff\x9b",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriterEverySplit escapes the same text cut at every point.
func TestWriterEverySplit(t *testing.T) {
	text := "a\x1b[0m b\u009b c\xc2"
	want := String(text)
	for i := 0; i <= len(text); i++ {
		var sb strings.Builder
		w := NewWriter(&sb)
		w.Write([]byte(text[:i]))
		w.Write([]byte(text[i:]))
		w.Close()
		if sb.String() != want {
			t.Errorf("split at %d: %q, want %q", i, sb.String(), want)
		}
	}
}
