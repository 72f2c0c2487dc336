package fleet

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// dialEnv makes TestHelperDial fetch http://<value>/ and print the body.
const dialEnv = "CUTOVER_FLEET_DIAL"

// TestHelperDial runs inside a node (see TestFleetExpose).
func TestHelperDial(t *testing.T) {
	addr := os.Getenv(dialEnv)
	if addr == "" {
		t.Skip("helper for TestFleetExpose")
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("BODY %s\n", b)
}

func TestFleetExpose(t *testing.T) {
	f := Start(t, Options{Nodes: 2})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "served on the host to %s", host)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv(dialEnv, addr)
	// Without the relay, 127.0.0.1 in a node is the node's own loopback.
	if out, err := f.Nodes[0].Run(os.Args[0], "-test.run=^TestHelperDial$", "-test.count=1"); err == nil {
		t.Fatalf("reached the host's %s from a node before Expose:\n%s", addr, out)
	}
	if err := f.Expose(addr); err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Nodes {
		out, err := n.Run(os.Args[0], "-test.run=^TestHelperDial$", "-test.count=1")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "BODY served on the host to 127.0.0.1") {
			t.Fatalf("%s: %s", n.Name, out)
		}
	}
}
