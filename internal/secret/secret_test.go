package secret

import (
	"bytes"
	"io"
	"math/rand"
	"strings"
	"testing"
)

// reference masks text the slow, obvious way: every occurrence of every
// value (short ones only as whole tokens), overlapping ranges merged.
func reference(values []string, text string) string {
	ranges := mergedRanges(values, text)
	var out strings.Builder
	for i := 0; i < len(text); {
		if e, ok := ranges[i]; ok {
			out.WriteString(Mask)
			i = e
			continue
		}
		out.WriteByte(text[i])
		i++
	}
	return out.String()
}

// mergedRanges returns start -> end of the masked ranges of text, ranges
// that overlap merged into one.
func mergedRanges(values []string, text string) map[int]int {
	type rng struct{ s, e int }
	var all []rng
	for _, v := range values {
		for i := 0; i+len(v) <= len(text); i++ {
			if text[i:i+len(v)] != v {
				continue
			}
			if len(v) < ShortLength && ((i > 0 && isWord(text[i-1])) || (i+len(v) < len(text) && isWord(text[i+len(v)]))) {
				continue
			}
			all = append(all, rng{i, i + len(v)})
		}
	}
	// sort by start
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].s < all[j-1].s; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	out := map[int]int{}
	for i := 0; i < len(all); {
		s, e := all[i].s, all[i].e
		j := i + 1
		for ; j < len(all) && all[j].s < e; j++ {
			e = max(e, all[j].e)
		}
		out[s] = e
		i = j
	}
	return out
}

func setOf(values ...string) *Set {
	s := &Set{}
	s.Add(values...)
	return s
}

// stream writes text to a Stream of set in the pieces cuts makes and
// returns what came out.
func stream(t testing.TB, set *Set, text string, cuts ...int) string {
	t.Helper()
	var buf bytes.Buffer
	st := set.Stream(&buf)
	prev := 0
	for _, c := range append(cuts, len(text)) {
		if _, err := st.Write([]byte(text[prev:c])); err != nil {
			t.Fatal(err)
		}
		prev = c
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var propertyValues = []string{
	"sk-live-0123456789", // long
	"0123",               // ShortLength: a substring, inside the long one
	"abc",                // short
	"x",                  // one byte
	"-:",                 // short, no word bytes
	"aaaa",               // overlaps itself
	"key\nmaterial",      // a newline inside
}

var propertyTexts = []string{
	"token=sk-live-0123456789\n",
	"sk-live-sk-live-0123456789sk-live-0123456789x",
	"abc abcdef xabc abc_ abc\tabc",
	"x y x\nxx x-x",
	"a-:b -: -:-:",
	"aaaaaaaaa baaaab aaa",
	"the key\nmaterial is key\nmaterial\n",
	"no secret here at all, nothing to hide",
	"ümabc abcü abc",
	"",
}

// TestStreamEverySplit is the property: however a text is cut into two or
// three writes, the stream's output is the reference masking of the whole.
func TestStreamEverySplit(t *testing.T) {
	set := setOf(propertyValues...)
	for _, text := range propertyTexts {
		want := reference(propertyValues, text)
		if got := set.Redact(text); got != want {
			t.Errorf("Redact(%q) = %q, want %q", text, got, want)
		}
		for i := 0; i <= len(text); i++ {
			if got := stream(t, set, text, i); got != want {
				t.Fatalf("split at %d of %q: %q, want %q", i, text, got, want)
			}
			for j := i; j <= len(text); j++ {
				if got := stream(t, set, text, i, j); got != want {
					t.Fatalf("split at %d and %d of %q: %q, want %q", i, j, text, got, want)
				}
			}
		}
	}
}

// TestStreamRandom checks random texts full of secrets, cut at random.
func TestStreamRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	set := setOf(propertyValues...)
	alphabet := []string{"a", "b", "x", " ", "-", ":", "_", "\n", "0123", "abc", "sk-live-", "0123456789", "key\n", "material", "ü"}
	for n := 0; n < 2000; n++ {
		var sb strings.Builder
		for k := rng.Intn(40); k > 0; k-- {
			sb.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		text := sb.String()
		var cuts []int
		for c := 0; c < len(text); c += 1 + rng.Intn(5) {
			cuts = append(cuts, c)
		}
		if got, want := stream(t, set, text, cuts...), reference(propertyValues, text); got != want {
			t.Fatalf("%q cut at %v: %q, want %q", text, cuts, got, want)
		}
	}
}

// TestStreamBoundaries puts secrets across 4 KiB and 64 KiB boundaries,
// written in pipe-sized chunks.
func TestStreamBoundaries(t *testing.T) {
	long := "sk-live-0123456789"
	set := setOf(long, "abc")
	for _, size := range []int{4096, 65536} {
		for _, off := range []int{1, len(long) / 2, len(long) - 1} {
			text := strings.Repeat(".", size-off) + long + " abc" + strings.Repeat(".", size)
			text = text[:size*2-3] + " abc"
			var cuts []int
			for c := size; c < len(text); c += size {
				cuts = append(cuts, c)
			}
			got := stream(t, set, text, cuts...)
			if strings.Contains(got, long[:4]) || strings.Contains(got, " abc") || strings.Count(got, Mask) != 3 {
				t.Errorf("size %d offset %d: %d masks, secret pieces left", size, off, strings.Count(got, Mask))
			}
			if got != reference([]string{long, "abc"}, text) {
				t.Errorf("size %d offset %d: output differs from the reference", size, off)
			}
		}
	}
}

// TestStreamHoldback checks that a stream keeps back no more than
// Holdback bytes of text that holds no secret, and nothing once closed.
func TestStreamHoldback(t *testing.T) {
	set := setOf("sk-live-0123456789", "abc")
	if got, want := set.Holdback(), len("sk-live-0123456789")-1; got != want {
		t.Fatalf("Holdback = %d, want %d", got, want)
	}
	if got := setOf("ab").Holdback(); got != 2 {
		t.Errorf("Holdback of a 2-byte value = %d, want 2 (the value, until the byte after it is known)", got)
	}
	var buf bytes.Buffer
	st := set.Stream(&buf)
	text := strings.Repeat("plain text, nothing secret. ", 20)
	for i := 0; i < len(text); i++ {
		st.Write([]byte{text[i]})
		if held := i + 1 - buf.Len(); held > set.Holdback() {
			t.Fatalf("after %d bytes, %d held back", i+1, held)
		}
	}
	st.Close()
	if buf.String() != text {
		t.Errorf("bytes lost or changed:\n%q", buf.String())
	}
	if _, err := st.Write([]byte("x")); err == nil {
		t.Error("a write after Close succeeded")
	}
}

// TestShortValuesAsTokens pins the documented rule for short values.
func TestShortValuesAsTokens(t *testing.T) {
	set := setOf("abc", "7")
	for in, want := range map[string]string{
		"pin=abc":          "pin=" + Mask,
		"abc":              Mask,
		"(abc)":            "(" + Mask + ")",
		"abcdef xabc abc_": "abcdef xabc abc_",
		"7 of 17, 7.5":     Mask + " of 17, " + Mask + ".5",
		"üabc":             "üabc",
	} {
		if got := set.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmptySetPassesThrough(t *testing.T) {
	var set *Set
	if got := set.Redact("abc"); got != "abc" {
		t.Errorf("nil set: %q", got)
	}
	if got := stream(t, &Set{}, "abc\x00def", 2); got != "abc\x00def" {
		t.Errorf("empty set: %q", got)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, io.ErrShortWrite }

func TestStreamWriteError(t *testing.T) {
	st := setOf("secret-value").Stream(failWriter{})
	if _, err := st.Write([]byte(strings.Repeat("x", 100))); err != io.ErrShortWrite {
		t.Fatalf("Write = %v, want the writer's error", err)
	}
	if err := st.Close(); err != io.ErrShortWrite {
		t.Errorf("Close = %v, want the writer's error", err)
	}
}

// BenchmarkStream measures the masking stream's throughput on command-like
// output (lines of text, one secret every 4 KiB) in 4 KiB writes, with 20
// secrets in the set.
func BenchmarkStream(b *testing.B) {
	var values []string
	for i := 0; i < 20; i++ {
		values = append(values, strings.Repeat(string(rune('a'+i)), 3)+"-secret-value-"+strings.Repeat("x", i))
	}
	set := setOf(values...)
	line := "2026-12-06T15:00:00Z INFO request served in 12ms path=/v1/objects status=200\n"
	chunk := []byte(strings.Repeat(line, 4096/len(line)) + values[7])
	b.SetBytes(int64(len(chunk)))
	st := set.Stream(io.Discard)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.Write(chunk)
	}
	st.Close()
}

// BenchmarkRedact measures Redact on a one-line message.
func BenchmarkRedact(b *testing.B) {
	set := setOf("sk-live-0123456789", "db-pass-93e1c7a5", "abc")
	msg := "step exec.echo failed: command sh -c ... exited with status 3: token=sk-live-0123456789 | done"
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		set.Redact(msg)
	}
}
