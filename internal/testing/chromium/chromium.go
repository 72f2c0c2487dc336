// Package chromium opens a page in Debian's headless chromium for tests: it
// takes a screenshot, returns the DOM after load (--dump-dom), and reports
// every request the page tried to send off the machine. Chromium is given a
// proxy that refuses everything, bypassed by nothing (loopback included), so
// a page that needs no network leaves the proxy's list empty, and any fetch
// (an image, a font, a stylesheet, a script) is caught and named.
//
// Chromium is installed by scripts/system-packages.sh (`make tools`); a
// missing chromium fails the test, it never skips it.
package chromium

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Page is what chromium made of a page.
type Page struct {
	// DOM is the document after load, as --dump-dom prints it.
	DOM string
	// Requests are the first lines of every request that reached the
	// refusing proxy ("CONNECT host:443 HTTP/1.1", "GET http://...").
	Requests []string
}

// browserHosts are the services Debian's chromium 156 calls by itself,
// whatever the page, even with every --disable flag below: the component
// updater, the sign-in service, the optimization guide, the time service.
// A proxy cannot tell who asked; a page that fetched from one of these
// hosts would go unseen, and nothing else would (TestCatchesPageFetches).
var browserHosts = []string{"update.googleapis.com", "accounts.google.com", "clients2.google.com",
	"optimizationguide-pa.googleapis.com", "safebrowsing.googleapis.com", "redirector.gvt1.com"}

// PageRequests are the Requests that are not the browser's own services.
func (p Page) PageRequests() []string {
	var out []string
	for _, r := range p.Requests {
		if !browserRequest(r) {
			out = append(out, r)
		}
	}
	return out
}

func browserRequest(line string) bool {
	f := strings.Fields(line)
	if len(f) < 2 {
		return false
	}
	host := f[1]
	if f[0] != "CONNECT" {
		rest, ok := strings.CutPrefix(host, "http://")
		if !ok {
			return false
		}
		host, _, _ = strings.Cut(rest, "/")
	}
	host = strings.TrimSuffix(host, ":443")
	host = strings.TrimSuffix(host, ":80")
	for _, h := range browserHosts {
		if host == h {
			return true
		}
	}
	return false
}

// Options size the window and name the screenshot.
type Options struct {
	Width, Height int
	// Screenshot is the PNG file to write; "" takes none.
	Screenshot string
}

// Binary returns chromium's path, failing t when it is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `make tools` (scripts/system-packages.sh installs Debian's chromium)")
	return ""
}

// Open loads the local file path in headless chromium and returns its DOM
// and the requests the page tried to send.
func Open(t testing.TB, path string, o Options) Page {
	t.Helper()
	bin := Binary(t)
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	proxy := refusingProxy(t)
	if o.Width == 0 {
		o.Width, o.Height = 1200, 900
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--no-default-browser-check",
		"--disable-features=NetworkTimeServiceQuerying",
		"--user-data-dir=" + t.TempDir(),
		"--proxy-server=http://" + proxy.addr, "--proxy-bypass-list=<-loopback>",
		fmt.Sprintf("--window-size=%d,%d", o.Width, o.Height), "--hide-scrollbars"}
	if o.Screenshot != "" {
		args = append(args, "--screenshot="+o.Screenshot)
	}
	args = append(args, "--dump-dom", "file://"+abs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", path, err, stderr.String())
	}
	return Page{DOM: string(out), Requests: proxy.seen()}
}

type proxy struct {
	addr string
	l    *net.TCPListener
	done chan struct{}
	mu   sync.Mutex
	reqs []string
}

// refusingProxy listens on loopback, records the first line of whatever
// connects, and closes the connection.
func refusingProxy(t testing.TB) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), l: l.(*net.TCPListener), done: make(chan struct{})}
	t.Cleanup(func() { l.Close() })
	go func() {
		defer close(p.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			p.mu.Lock()
			p.reqs = append(p.reqs, strings.TrimSpace(line))
			p.mu.Unlock()
		}
	}()
	return p
}

// seen stops the proxy, once chromium has exited, and returns what it
// recorded. Every connection chromium made is in the listener's backlog by
// then (the kernel completed it): the accept loop takes them all before
// its deadline, set from now on, ends it.
func (p *proxy) seen() []string {
	_ = p.l.SetDeadline(time.Now().Add(200 * time.Millisecond))
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.reqs...)
}
