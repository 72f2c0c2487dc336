package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// Options configures a fleet.
type Options struct {
	// Nodes is the number of nodes (default 4, at most 200).
	Nodes int
	// MinIO starts a distributed MinIO, one server and one drive per
	// node, each under its own supervisor reading EnvFile, and waits
	// until every node reports the cluster healthy.
	MinIO bool
	// RootUser and RootPassword are MinIO's credentials (default
	// "fleetadmin" and a random password).
	RootUser, RootPassword string
	// KMSEnv are the KMS lines of EnvFile; default: MINIO_KMS_SECRET_KEY
	// with a random static key named "minio-static-key" (Fleet.StaticKey).
	KMSEnv []string
	// ExtraEnv are more KEY=VALUE lines for EnvFile.
	ExtraEnv []string
}

// Fleet is a running set of nodes on a bridge of their own.
type Fleet struct {
	Nodes          []*Node
	Subnet         string // e.g. "10.213.7.0/24"
	Gateway        string // the bridge's address, from which the test process reaches the nodes
	User           string // the SSH user (the current user)
	IdentityFile   string // the private key every node's sshd accepts
	KnownHostsFile string // every node's host key, as written at start
	Dir            string

	// MinIO's credentials and static key (also with MinIO off).
	RootUser, RootPassword string
	StaticKeyName          string
	StaticKey              []byte

	opts      Options
	net       network
	supervise string // the supervise binary, with MinIO
	minio     string // the minio binary, with MinIO
	closeOnce sync.Once
	closeErr  error
	mu        sync.Mutex
	relays    []*relay // see Expose
}

// Start starts a fleet for t (see New) and closes it when t ends;
// failing to start fails t.
func Start(t testing.TB, opts Options) *Fleet {
	t.Helper()
	requireRoot(t)
	require(t, sshdPath, keygenPath, ipPath, unsharePath, nsenterPath)
	if opts.MinIO {
		testenv.Bin(t, "minio")
	}
	f, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(f.Logs())
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// New starts a fleet with its files under dir (which must exist). On
// error everything it made is removed again. The caller must Close it.
// It needs root.
func New(dir string, opts Options) (*Fleet, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 4
	}
	if opts.Nodes < 1 || opts.Nodes > 200 {
		return nil, fmt.Errorf("fleet: %d nodes: want 1 to 200", opts.Nodes)
	}
	sweepStale()
	f := &Fleet{Dir: dir, opts: opts}
	if err := f.build(); err != nil {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return f, nil
}

// build makes the network, the nodes and their sshds, then MinIO.
func (f *Fleet) build() error {
	if err := f.initMinIO(); err != nil {
		return err
	}
	n, err := newNetwork()
	f.net = n
	ownIDs.add(n.id)
	if err != nil {
		return err
	}
	f.Subnet, f.Gateway = n.prefix+".0/24", n.gateway()
	f.IdentityFile, f.KnownHostsFile = filepath.Join(f.Dir, "id_ed25519"), filepath.Join(f.Dir, "known_hosts")
	if _, err := genKey(f.IdentityFile, "cutover-fleet-operator"); err != nil {
		return err
	}
	var known strings.Builder
	for i := 1; i <= f.opts.Nodes; i++ {
		node, err := f.addNode(i)
		if err != nil {
			return err
		}
		f.User = node.SSH.User
		line, _ := node.SSH.KnownHostsLine()
		known.WriteString(line)
	}
	if err := os.WriteFile(f.KnownHostsFile, []byte(known.String()), 0o600); err != nil {
		return err
	}
	if f.opts.MinIO {
		return f.startMinIO()
	}
	return nil
}

// addNode creates node i: namespace, veth, holder, sshd.
func (f *Fleet) addNode(i int) (*Node, error) {
	node := &Node{Index: i, Name: fmt.Sprintf("n%d", i), Addr: f.net.nodeAddr(i), NetNS: f.net.netns(i),
		Dir: filepath.Join(f.Dir, fmt.Sprintf("n%d", i)), fleet: f}
	if err := f.net.addNode(i); err != nil {
		return nil, err
	}
	f.Nodes = append(f.Nodes, node)
	if err := node.startHolder(); err != nil {
		return nil, err
	}
	s, err := newSSHD(filepath.Join(node.Dir, "ssh"), node.Addr, 22, node.enter(), f.IdentityFile)
	if err != nil {
		return nil, err
	}
	node.SSH = s
	return node, s.start()
}

// Node returns the node named name ("n1"...), or nil.
func (f *Fleet) Node(name string) *Node {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Close kills every process of the fleet and removes its namespaces and
// links. It is idempotent and returns what could not be removed.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		var errs []error
		f.mu.Lock()
		for _, r := range f.relays {
			errs = append(errs, r.close())
		}
		f.mu.Unlock()
		for _, n := range f.Nodes {
			errs = append(errs, n.stop()...)
		}
		if f.net.id != "" {
			errs = append(errs, removeNetwork(f.net.id, f.namespaces()))
		}
		errs = append(errs, f.Leftovers())
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// namespaces lists the fleet's network namespace names.
func (f *Fleet) namespaces() []string {
	var out []string
	for i := 1; i <= f.opts.Nodes; i++ {
		out = append(out, f.net.netns(i))
	}
	return out
}

// Leftovers returns an error naming every namespace, link or process of
// this fleet that still exists (all of them, before Close).
func (f *Fleet) Leftovers() error {
	var nsIno []string
	var pids []int
	for _, n := range f.Nodes {
		nsIno = append(nsIno, n.netIno, n.mntIno)
		for _, p := range []*proc{n.holder, n.minio, n.sshProc()} {
			if p != nil {
				pids = append(pids, p.pid())
			}
		}
	}
	return leftovers(f.namespaces(), []string{f.net.id}, nsIno, pids)
}

// Logs returns the end of every node's sshd and MinIO logs, for a failed test.
func (f *Fleet) Logs() string {
	var b strings.Builder
	for _, n := range f.Nodes {
		if n.SSH != nil {
			fmt.Fprintf(&b, "--- %s sshd ---\n%s\n", n.Name, logTail(n.SSH.logFile, 20))
		}
		if n.minio != nil {
			fmt.Fprintf(&b, "--- %s minio ---\n%s\n", n.Name, logTail(n.hostPath(SupervisorDir+"/log"), 40))
		}
	}
	return b.String()
}
