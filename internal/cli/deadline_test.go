package cli

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestDeadlineScripts runs the scripts in testdata/deadline, each with $HANG:
// the address of a TCP listener that accepts connections and never answers.
// The whole run has a deadline, so a cutover that hangs fails the test (its
// process is killed) instead of waiting for go test's timeout.
func TestDeadlineScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:      "testdata/deadline",
		Deadline: time.Now().Add(3 * time.Minute),
		Setup: func(env *testscript.Env) error {
			addr, stop, err := hangingListener()
			if err != nil {
				return err
			}
			env.Defer(stop)
			env.Setenv("HANG", addr)
			return nil
		},
	})
}

// hangingListener accepts connections on a loopback port and never reads or
// writes; stop closes the listener and every connection.
func hangingListener() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}, nil
}
