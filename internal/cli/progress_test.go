package cli

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/ptytest"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// progressKeys is the size of the migration the progress tests watch.
const progressKeys = 100_000

// fillKeys writes n keys in KES's format into dir, the fs keystore's
// layout (one file per key), without the store's fsync per key: the source
// of the migration only has to be read.
func fillKeys(t *testing.T, dir string, n int) {
	t.Helper()
	material := make([]byte, 32)
	rand.Read(material)
	value, err := keskey.Encode(providers.Key{Material: material, Algorithm: "AES256"}, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("key-%06d", i)), value, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// migrationPlan writes a plan that migrates src into dst (fs keystores)
// and returns its path.
func migrationPlan(t *testing.T, dir, src, dst string) string {
	t.Helper()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`cutover "progress" {}

kms "src" {
  type = "fs"
  path = %q
}

kms "dst" {
  type = "fs"
  path = %q
}

step "migrate_keys" "all" {
  from = kms.src
  to   = kms.dst
}
`, src, dst)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// screen replays what a terminal shows: "\r" returns to the line's start,
// ESC[K erases to its end, "\n" (or the terminal's "\r\n") ends a line.
func screen(raw string) []string {
	var lines []string
	var cur []rune
	col := 0
	rs := []rune(raw)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\r':
			col = 0
		case r == '\n':
			lines = append(lines, string(cur))
			cur, col = nil, 0
		case r == 0x1b && i+2 < len(rs) && rs[i+1] == '[' && rs[i+2] == 'K':
			cur = cur[:col]
			i += 2
		default:
			if col < len(cur) {
				cur[col] = r
			} else {
				cur = append(cur, r)
			}
			col++
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

var (
	liveRE  = regexp.MustCompile(`\r\x1b\[K  \.\.\.   migrate_keys\.all +([0-9.]+)s  (\d+)/(\d+) keys, \d+/s(, [0-9.]+s left)?`)
	finalRE = regexp.MustCompile(`^  ok    migrate_keys\.all +([0-9.]+)s  100000 keys: 100000 created, 0 identical skipped, 0 replaced over every attempt, 0 already done before a resume; every key verified$`)
)

var smallRE = regexp.MustCompile(`^  ok    migrate_keys\.all +([0-9.]+)s  2000 keys: 2000 created`)

// TestProgressOnTerminal: a 100,000-key migration run on a pseudo-terminal
// redraws one progress line in place (count/total, rate, time left) at most
// four times a second of the step's own time, and leaves exactly the step's
// final line on the screen; the same run with stdout not a terminal prints
// no carriage return, no escape sequence and no progress line.
func TestProgressOnTerminal(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	fillKeys(t, src, progressKeys)

	ptm, pts, err := ptytest.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	var raw bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(&raw, ptm); close(read) }()
	tty := migrationPlan(t, filepath.Join(dir), src, filepath.Join(dir, "dst-tty"))
	code := Main([]string{"cutover", "run", tty}, strings.NewReader(""), pts, pts)
	pts.Close()
	<-read // EIO once the terminal end is closed and everything is read
	if code != ExitOK {
		t.Fatalf("cutover run on a terminal exited %d:\n%s", code, raw.String())
	}
	out := raw.String()
	updates := liveRE.FindAllStringSubmatch(out, -1)
	lines := screen(out)
	var final []string
	for _, l := range lines {
		if strings.Contains(l, "migrate_keys.all") {
			final = append(final, l)
		}
	}
	if len(final) != 1 || !finalRE.MatchString(final[0]) {
		t.Fatalf("the screen shows, for the step:\n%s\nwant exactly its final line", strings.Join(final, "\n"))
	}
	took := finalRE.FindStringSubmatch(final[0])[1]
	var secs float64
	fmt.Sscan(took, &secs)
	t.Logf("%d keys in %.1fs; %d in-place updates; screen:\n%s", progressKeys, secs, len(updates), strings.Join(lines, "\n"))
	if len(updates) == 0 {
		t.Fatal("no in-place progress line")
	}
	// The line is redrawn every 250 ms from the step's start event to its
	// done event, each written after a mark (an fsync) that the step's own
	// time leaves out: a second more covers them.
	if max := int(4*(secs+1)) + 1; len(updates) > max {
		t.Errorf("%d progress updates in %.1fs: more than 4 a second", len(updates), secs)
	}
	last := updates[len(updates)-1]
	if last[3] != fmt.Sprint(progressKeys) {
		t.Errorf("the progress total is %s, want %d", last[3], progressKeys)
	}
	sawLeft := false
	for _, u := range updates {
		sawLeft = sawLeft || u[4] != ""
	}
	if !sawLeft {
		t.Error("no progress line says the time left")
	}

	// Not a terminal: a smaller migration shows the same (the output does
	// not depend on the count, and 100,000 keys take a minute here).
	small := filepath.Join(dir, "src-small")
	fillKeys(t, small, 2_000)
	var plain bytes.Buffer
	pipe := migrationPlan(t, t.TempDir(), small, filepath.Join(dir, "dst-pipe"))
	if code := Main([]string{"cutover", "run", pipe}, strings.NewReader(""), &plain, &plain); code != ExitOK {
		t.Fatalf("cutover run to a buffer exited %d:\n%s", code, plain.String())
	}
	if strings.ContainsAny(plain.String(), "\r\x1b") {
		t.Errorf("progress noise in output that is not a terminal:\n%q", plain.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(plain.String()), "\n") {
		if strings.Contains(l, "...") && !strings.HasSuffix(l, "(still running)") {
			t.Errorf("a progress line in output that is not a terminal: %q", l)
		}
		if strings.Contains(l, "migrate_keys.all") && !strings.Contains(l, "(still running)") && !smallRE.MatchString(l) {
			t.Errorf("unexpected line: %q", l)
		}
	}
}
