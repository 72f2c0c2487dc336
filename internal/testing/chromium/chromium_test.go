package chromium_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/testing/chromium"
)

// TestCatchesPageFetches: a page that loads an image and a web font is
// caught by the refusing proxy, both requests named, and the filter of the
// browser's own services hides neither; a page that fetches nothing leaves
// no page request.
func TestCatchesPageFetches(t *testing.T) {
	dir := t.TempDir()
	fetches := filepath.Join(dir, "fetches.html")
	src := `<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto"></head>` +
		`<body><p id="x">hello</p><img src="http://203.0.113.7/x.png"></body></html>`
	if err := os.WriteFile(fetches, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	page := chromium.Open(t, fetches, chromium.Options{})
	got := strings.Join(page.PageRequests(), "\n")
	if !strings.Contains(got, "fonts.googleapis.com:443") || !strings.Contains(got, "http://203.0.113.7/x.png") {
		t.Errorf("page requests:\n%s\nwant the font and the image", got)
	}
	if !strings.Contains(page.DOM, `<p id="x">hello</p>`) {
		t.Errorf("DOM: %s", page.DOM)
	}

	quiet := filepath.Join(dir, "quiet.html")
	if err := os.WriteFile(quiet, []byte(`<!DOCTYPE html><html><body><p>hello</p></body></html>`), 0o600); err != nil {
		t.Fatal(err)
	}
	if page := chromium.Open(t, quiet, chromium.Options{}); len(page.PageRequests()) > 0 {
		t.Errorf("a page that fetches nothing: page requests %q", page.PageRequests())
	}
}
