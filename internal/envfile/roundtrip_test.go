package envfile

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// gen builds random valid env files together with the values a reader must
// see, following the grammar in the package documentation.
type gen struct {
	r    *rand.Rand
	want map[string]string
	keys []string // active keys in order of first appearance
}

var genKeys = []string{"A", "B", "_x1", "MINIO_KMS_SECRET_KEY", "MINIO_KMS_KES_ENDPOINT", "export", "exportX"}

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// chars returns up to n random bytes from alphabet.
func (g *gen) chars(alphabet string, n int) string {
	b := make([]byte, g.r.IntN(n+1))
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *gen) ws() string { return g.chars(" \t\r", 2) }

// file returns a random file of up to 12 lines.
func (g *gen) file() string {
	g.want = map[string]string{}
	g.keys = nil
	eol := g.pick("\n", "\r\n")
	var b strings.Builder
	for n := g.r.IntN(13); n > 0; n-- {
		b.WriteString(g.line())
		if g.r.IntN(10) == 0 {
			b.WriteString(g.pick("\n", "\r\n")) // mixed line endings
		} else {
			b.WriteString(eol)
		}
	}
	s := b.String()
	if g.r.IntN(4) == 0 { // drop the final line ending
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	}
	return s
}

func (g *gen) line() string {
	switch g.r.IntN(5) {
	case 0:
		return g.ws()
	case 1:
		return g.ws() + "#" + g.chars(" \t\rA=1#'\"\\$x", 12)
	}
	return g.assignment()
}

func (g *gen) assignment() string {
	key := g.pick(genKeys...)
	head := g.pick("", " ", "\t") + key + g.pick("", " ", "\t")
	token, value := g.value()
	g.record(key, value)
	return head + "=" + g.pick("", " ") + token + g.tail()
}

func (g *gen) record(key, value string) {
	if _, ok := g.want[key]; !ok {
		g.keys = append(g.keys, key)
	}
	g.want[key] = value
}

// tail is what may follow a value: whitespace only (systemd has no
// trailing comments).
func (g *gen) tail() string { return g.pick("", " ", "\t", " \r") }

// value returns a value as written and as decoded.
func (g *gen) value() (token, value string) {
	switch g.r.IntN(3) {
	case 0:
		return g.unquoted()
	case 1:
		v := g.chars("ab #$\\\"=\t\r\xc3\xa9", 10)
		return "'" + v + "'", v
	}
	return g.double()
}

// unquoted returns words joined by spaces; no word starts with a quote,
// and none holds a backslash.
func (g *gen) unquoted() (string, string) {
	var words []string
	for n := g.r.IntN(4); n > 0; n-- {
		w := g.pick("x", "1", "/", "$", "~", "é", "#") + g.chars("a9_-.:/,@%+=^$!~*#'\"", 6)
		words = append(words, w)
	}
	v := strings.Join(words, " ")
	return v, v
}

// double returns a double-quoted value, choosing among equivalent escapes.
func (g *gen) double() (string, string) {
	var tok, val strings.Builder
	raw := g.chars("ab #'\"\\$`\rxn", 10)
	for i := 0; i < len(raw); i++ {
		e, v := g.escape(raw[i])
		tok.WriteString(e)
		val.WriteString(v)
	}
	return `"` + tok.String() + `"`, val.String()
}

func (g *gen) escape(c byte) (string, string) {
	switch c {
	case '"', '\\':
		return `\` + string(c), string(c)
	case 'n': // as x: "\n" is two characters to systemd
		e := g.pick("n", `\n`)
		return e, e
	case '$', '`':
		return g.pick("", `\`) + string(c), string(c)
	case 'x': // an unknown escape keeps its backslash
		e := g.pick("x", `\x`)
		return e, e
	}
	return string(c), string(c)
}

func TestRoundTripGenerated(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(1, 2))}
	for i := 0; i < 5000; i++ {
		data := g.file()
		f, err := Parse([]byte(data))
		if err != nil {
			t.Fatalf("Parse(%q): %v", data, err)
		}
		if got := string(f.Bytes()); got != data {
			t.Fatalf("round trip of %q gave %q", data, got)
		}
		checkValues(t, data, f, g.want, g.keys)
		key := g.pick(genKeys...)
		_, value := g.value()
		checkEdits(t, []byte(data), key, value)
	}
}

func checkValues(t *testing.T, data string, f *File, want map[string]string, keys []string) {
	t.Helper()
	for k, v := range want {
		if got, ok := f.Get(k); !ok || got != v {
			t.Fatalf("Parse(%q).Get(%q) = %q, %v; want %q", data, k, got, ok, v)
		}
	}
	if got := f.Keys(); strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Fatalf("Parse(%q).Keys() = %q, want %q", data, got, keys)
	}
}

// checkEdits applies Set, Unset and Comment to a valid file and checks that
// the result parses, has the expected value for key and the same values for
// every other key.
func checkEdits(t *testing.T, data []byte, key, value string) {
	t.Helper()
	orig, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%q): %v", data, err)
	}
	if ValidValue(value) {
		checkSet(t, orig, key, value)
	}
	checkUnset(t, orig, key)
	checkComment(t, orig, key)
}

func checkSet(t *testing.T, orig *File, key, value string) {
	t.Helper()
	f := orig.Clone()
	f.Set(key, value)
	if v, ok := reparse(t, orig, f, key).Get(key); !ok || v != value {
		t.Fatalf("Set(%q, %q) on %q gave %q, then Get = %q, %v", key, value, orig.Bytes(), f.Bytes(), v, ok)
	}
	if before := string(f.Bytes()); f.Set(key, value) || string(f.Bytes()) != before {
		t.Fatalf("second Set(%q, %q) on %q changed the file", key, value, orig.Bytes())
	}
}

func checkUnset(t *testing.T, orig *File, key string) {
	t.Helper()
	_, had := orig.Get(key)
	f := orig.Clone()
	if f.Unset(key) != had {
		t.Fatalf("Unset(%q) on %q returned %v", key, orig.Bytes(), !had)
	}
	if v, ok := reparse(t, orig, f, key).Get(key); ok {
		t.Fatalf("Unset(%q) on %q gave %q, then Get = %q", key, orig.Bytes(), f.Bytes(), v)
	}
}

func checkComment(t *testing.T, orig *File, key string) {
	t.Helper()
	_, had := orig.Get(key)
	f := orig.Clone()
	if f.Comment(key) != had {
		t.Fatalf("Comment(%q) on %q returned %v", key, orig.Bytes(), !had)
	}
	got := reparse(t, orig, f, key)
	if v, ok := got.Get(key); ok {
		t.Fatalf("Comment(%q) on %q gave %q, then Get = %q", key, orig.Bytes(), f.Bytes(), v)
	}
	if d := Diff(orig, got); had && (len(d) != 1 || d[0].Op != Commented || d[0].Key != key) {
		t.Fatalf("Diff after Comment(%q) on %q = %+v", key, orig.Bytes(), d)
	}
}

// reparse parses the rendering of f and checks that all keys of orig but key
// kept their values.
func reparse(t *testing.T, orig, f *File, key string) *File {
	t.Helper()
	got, err := Parse(f.Bytes())
	if err != nil {
		t.Fatalf("edited file %q does not parse: %v", f.Bytes(), err)
	}
	for _, k := range orig.Keys() {
		ov, _ := orig.Get(k)
		if nv, ok := got.Get(k); k != key && (!ok || nv != ov) {
			t.Fatalf("editing %q changed %q from %q to %q (%v)", key, k, ov, nv, ok)
		}
	}
	return got
}

// knownError matches every error Parse may return: only fixed reasons and at
// most one quoted character of the input.
var knownError = regexp.MustCompile(`^line [1-9][0-9]*: (` + strings.Join([]string{
	regexp.QuoteMeta(reasonNoEquals),
	reasonNoName,
	reasonOpenSingle,
	reasonOpenDouble,
	regexp.QuoteMeta(reasonAfterQuote),
	regexp.QuoteMeta(reasonBackslash),
	regexp.QuoteMeta(reasonExport),
	reasonBadName + `(starts with a digit|contains whitespace|contains a non-ASCII character|contains a control character|contains "(.|\\.)")`,
}, "|") + `)$`)

func FuzzParseRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "\n", "A=1\n", "export A=1\n", "# c\n\nA='x y'\r\nB=\"q\\\"\\n\\$\" # c\r\n",
		"A=1 # c\nA=2", "MINIO_OPTS=--address :9000\n", "A= #c\n", "A=a#b\n", "A=1\r",
		"1X=1\n", "A\n", "A='x\n", "A=\"x\n", "A=\"x\"y\n", "A=x\\\n", "export =1\n", "A-B=2\n",
	} {
		f.Add([]byte(s), "A", "new value $x")
	}
	g := &gen{r: rand.New(rand.NewPCG(3, 4))}
	for i := 0; i < 20; i++ {
		_, v := g.value()
		f.Add([]byte(g.file()), g.pick(genKeys...), v)
	}
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		file, err := Parse(data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if got := file.Bytes(); string(got) != string(data) {
			t.Fatalf("round trip of %q gave %q", data, got)
		}
		checkEdits(t, data, fuzzKey(file, key), value)
	})
}

func checkParseError(t *testing.T, data []byte, err error) {
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > strings.Count(string(data), "\n")+1 {
		t.Fatalf("Parse(%q) error %v is not a *ParseError with a valid line", data, err)
	}
	if !knownError.MatchString(err.Error()) {
		t.Fatalf("Parse(%q) error %q is not one of the known messages", data, err)
	}
}

// fuzzKey returns key if valid, else one of the file's keys, else "FUZZ".
func fuzzKey(f *File, key string) string {
	if ValidKey(key) {
		return key
	}
	if keys := f.Keys(); len(keys) > 0 {
		return keys[len(key)%len(keys)]
	}
	return "FUZZ"
}
