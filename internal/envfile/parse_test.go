package envfile

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseConstructs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string // expected Get results; keys listed must be present
		keys []string          // expected Keys()
	}{
		{"empty", "", nil, nil},
		{"blank lines", "\n  \n\t\n", nil, nil},
		{"comment", "# MINIO_KMS=x\n  # indented\n; semicolon\n\t;A=1\n", nil, nil},
		{"plain", "A=1\n", map[string]string{"A": "1"}, []string{"A"}},
		{"name export", "export=1\nexportA=2\nexport = 3\n", map[string]string{"export": "3", "exportA": "2"}, []string{"export", "exportA"}},
		{"indented", "  \tA=1\n", map[string]string{"A": "1"}, []string{"A"}},
		{"spaces around =", "A = 1 \n", map[string]string{"A": "1"}, []string{"A"}},
		{"empty value", "A=\nB=  \n", map[string]string{"A": "", "B": ""}, []string{"A", "B"}},
		{"unquoted spaces", "MINIO_OPTS=--address :9000 --quiet\n", map[string]string{"MINIO_OPTS": "--address :9000 --quiet"}, []string{"MINIO_OPTS"}},
		{"unquoted equals", "A=b=c==\n", map[string]string{"A": "b=c=="}, []string{"A"}},
		{"unquoted hash", "A=a#b\nB=#c\n", map[string]string{"A": "a#b", "B": "#c"}, []string{"A", "B"}},
		{"unquoted literal", `A=$HOME'x'"y"` + "\n", map[string]string{"A": `$HOME'x'"y"`}, []string{"A"}},
		{"hash after space", "A=1 # one\nB=2\t#two\nC= # none\n", map[string]string{"A": "1 # one", "B": "2\t#two", "C": "# none"}, []string{"A", "B", "C"}},
		{"single", `A='x y # $z \n "q"'` + "\n", map[string]string{"A": `x y # $z \n "q"`}, []string{"A"}},
		{"single empty", "A=''\n", map[string]string{"A": ""}, []string{"A"}},
		{"double", `A="x y # z"` + "\n", map[string]string{"A": "x y # z"}, []string{"A"}},
		{"double escapes", `A="q\" b\\ n\n d\$ t\` + "`" + ` o\x"` + "\n", map[string]string{"A": "q\" b\\ n\\n d$ t` o\\x"}, []string{"A"}},
		{"double empty", `A=""` + "\n", map[string]string{"A": ""}, []string{"A"}},
		{"quoted trailing space", "A=\"1\"  \n", map[string]string{"A": "1"}, []string{"A"}},
		{"quote after space", `A= "1"` + "\n", map[string]string{"A": "1"}, []string{"A"}},
		{"crlf", "A=1\r\nB=\"2\"\r\n# c\r\n\r\n", map[string]string{"A": "1", "B": "2"}, []string{"A", "B"}},
		{"no final newline", "A=1\nB=2", map[string]string{"A": "1", "B": "2"}, []string{"A", "B"}},
		{"stray cr at eof", "A=1\r", map[string]string{"A": "1"}, []string{"A"}},
		{"last wins", "A=1\nB=x\nA=2\n", map[string]string{"A": "2", "B": "x"}, []string{"A", "B"}},
		{"lowercase", "a_b9=1\n_=2\n", map[string]string{"a_b9": "1", "_": "2"}, []string{"a_b9", "_"}},
		{"utf8 value", "A=héllo wörld\n", map[string]string{"A": "héllo wörld"}, []string{"A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			if got := string(f.Bytes()); got != tt.in {
				t.Fatalf("Bytes() = %q, want %q", got, tt.in)
			}
			for k, want := range tt.want {
				if got, ok := f.Get(k); !ok || got != want {
					t.Errorf("Get(%q) = %q, %v; want %q, true", k, got, ok, want)
				}
			}
			if got := f.Keys(); !slices.Equal(got, tt.keys) {
				t.Errorf("Keys() = %q, want %q", got, tt.keys)
			}
		})
	}
}

func TestGetCommentedOrMissing(t *testing.T) {
	f := mustParse(t, "# A=1\n#B=2\n")
	for _, k := range []string{"A", "B", "C"} {
		if v, ok := f.Get(k); ok {
			t.Errorf("Get(%q) = %q, true; want !ok", k, v)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const (
		after     = "text after the closing quote: systemd would add it to the value (it has no trailing comments); put a comment on a line of its own"
		backslash = "backslash in an unquoted value: systemd drops it (or joins the next line); quote the value with single quotes"
	)
	tests := []struct {
		in     string
		line   int
		reason string
	}{
		{"A=1\nB=2\n1X=3\n", 3, "invalid variable name: starts with a digit"},
		{"justtext\n", 1, `missing "="`},
		{"export A\n", 1, `"export" before the name: systemd ignores such a line; remove "export"`},
		{"export A=1\n", 1, `"export" before the name: systemd ignores such a line; remove "export"`},
		{"export\t  A=1\n", 1, `"export" before the name: systemd ignores such a line; remove "export"`},
		{"=1\n", 1, "missing variable name"},
		{"A-B=1\n", 1, `invalid variable name: contains "-"`},
		{"A B=1\n", 1, "invalid variable name: contains whitespace"},
		{"A.B=1\n", 1, `invalid variable name: contains "."`},
		{"Ä=1\n", 1, "invalid variable name: contains a non-ASCII character"},
		{"A\x01=1\n", 1, "invalid variable name: contains a control character"},
		{`"A"=1` + "\n", 1, `invalid variable name: contains "\""`},
		{"A='open\n", 1, "unterminated single-quoted value"},
		{"# ok\r\nA=\"open\r\nB=2\r\n", 2, "unterminated double-quoted value"},
		{`A="esc\"` + "\n", 1, "unterminated double-quoted value"},
		{`A="x\`, 1, "unterminated double-quoted value"},
		{`A="x"y` + "\n", 1, after},
		{`A='x'#c` + "\n", 1, after},
		{`A="1" # c` + "\n", 1, after},
		{"B='2'\t#c\n", 1, after},
		{`A="x" "y"` + "\n", 1, after},
		{"A=x\\\nB=1\n", 1, backslash},
		{`A=a\b` + "\n", 1, backslash},
	}
	for _, tt := range tests {
		f, err := Parse([]byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) || f != nil {
			t.Errorf("Parse(%q) = %v, %v; want *ParseError", tt.in, f, err)
			continue
		}
		if pe.Line != tt.line || pe.Reason != tt.reason {
			t.Errorf("Parse(%q) error = %d %q; want %d %q", tt.in, pe.Line, pe.Reason, tt.line, tt.reason)
		}
	}
}

func TestParseErrorFormat(t *testing.T) {
	_, err := Parse([]byte("A=1\nB=2\n1X=3\n"))
	if got, want := err.Error(), "line 3: invalid variable name: starts with a digit"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestParseErrorHidesSecrets checks that no error message repeats any part of
// an invalid line beyond one offending character, whatever the mistake.
func TestParseErrorHidesSecrets(t *testing.T) {
	const secret = "s3cr3tVal"
	lines := []string{
		secret,
		"A=\"" + secret,
		"A='" + secret,
		"A=\"" + secret + "\"" + secret,
		"A=" + secret + "\\",
		"1" + secret + "=" + secret,
		secret + " " + secret + "=" + secret,
		"MIIEv" + secret + "+/Qk9PTQ==", // a stray line of a pasted PEM key
		"export " + secret,
	}
	for _, l := range lines {
		_, err := Parse([]byte("OK=1\n" + l + "\n"))
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error", l)
			continue
		}
		if strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "Qk9") {
			t.Errorf("Parse(%q) error %q leaks the value", l, err)
		}
	}
}

func TestValidKey(t *testing.T) {
	for _, k := range []string{"A", "_", "a1", "MINIO_KMS_KES_ENDPOINT", "_9"} {
		if !ValidKey(k) {
			t.Errorf("ValidKey(%q) = false", k)
		}
	}
	for _, k := range []string{"", "1A", "A-B", "A B", "A=B", "é", "export A"} {
		if ValidKey(k) {
			t.Errorf("ValidKey(%q) = true", k)
		}
	}
}

func mustParse(t testing.TB, s string) *File {
	t.Helper()
	f, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}
