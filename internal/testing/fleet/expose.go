package fleet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// relay accepts connections in a node's network namespace and connects
// each to an address of the test process's own namespace.
type relay struct {
	ln     net.Listener
	target string
}

// Expose makes a server of the test process's host, listening on addr
// (e.g. KES on 127.0.0.1:port), reachable from every node at the same
// address: each node gets a listener on addr in its own network
// namespace that relays every connection to addr on the host, the way
// an SSH port forward would. TLS passes through untouched, so a
// certificate for 127.0.0.1 verifies on the nodes too. The relays end
// with Close.
func (f *Fleet) Expose(addr string) error {
	for _, n := range f.Nodes {
		ln, err := listenInNetns(n.NetNS, addr)
		if err != nil {
			return fmt.Errorf("exposing %s on %s: %w", addr, n.Name, err)
		}
		r := &relay{ln: ln, target: addr}
		f.mu.Lock()
		f.relays = append(f.relays, r)
		f.mu.Unlock()
		go r.serve()
	}
	return nil
}

// listenInNetns opens a TCP listener on addr inside the named network
// namespace: the socket is made on an OS thread moved into that
// namespace for the call and moved back after. The thread must not end:
// processes this package started from it have Pdeathsig set, which the
// kernel fires when the thread that forked them exits. So if it cannot
// be moved back, it stays locked to a goroutine that never returns.
func listenInNetns(netns, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("own network namespace: %w", err)}
			return
		}
		defer unix.Close(home)
		ln, err := listenThere(netns, addr)
		if rerr := unix.Setns(home, unix.CLONE_NEWNET); rerr != nil {
			ch <- result{ln, err}
			select {} // this thread is in the node's namespace for good
		}
		runtime.UnlockOSThread()
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// listenThere moves the calling (locked) thread into netns and listens
// on addr there.
func listenThere(netns, addr string) (net.Listener, error) {
	fd, err := unix.Open("/run/netns/"+netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/run/netns/" + netns, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("setns %s: %w", netns, err)
	}
	return net.Listen("tcp", addr)
}

// serve relays every accepted connection until the listener closes.
func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.pipe(c)
	}
}

// pipe copies both ways between c and a new connection to the target.
func (r *relay) pipe(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	<-done
}

// close stops accepting and ends the open relays.
func (r *relay) close() error {
	err := r.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
