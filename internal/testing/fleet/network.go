package fleet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// netnsPrefix starts the name of every network namespace the package
// creates: cutover-fleet-<pid>-<id>-n<i>, so that a later run can tell
// whether the test binary that made it still lives.
const netnsPrefix = "cutover-fleet-"

// netLock serialises the choice of subnets among test binaries running
// at the same time.
const netLock = "/tmp/cutover-fleet.lock"

// network is a bridge and one veth pair per node, named after id.
type network struct {
	id     string // 6 hex digits, unique per fleet
	prefix string // "10.a.b": the /24 is prefix.0/24
}

// bridge is the bridge's link name.
func (n network) bridge() string { return "cf" + n.id + "b" }

// hostVeth is the bridge-side link of node i.
func (n network) hostVeth(i int) string { return fmt.Sprintf("cf%sh%d", n.id, i) }

// peerVeth is node i's side before it moves into the node and is renamed eth0.
func (n network) peerVeth(i int) string { return fmt.Sprintf("cf%sp%d", n.id, i) }

// netns is node i's network namespace.
func (n network) netns(i int) string {
	return fmt.Sprintf("%s%d-%s-n%d", netnsPrefix, os.Getpid(), n.id, i)
}

// gateway is the bridge's address: the test process's side.
func (n network) gateway() string { return n.prefix + ".1" }

// nodeAddr is node i's address (i from 1).
func (n network) nodeAddr(i int) string { return fmt.Sprintf("%s.%d", n.prefix, 10+i) }

// newNetwork chooses an id and a free 10.x.y.0/24 and creates the bridge
// with the gateway address, under a machine-wide lock so that parallel
// test binaries never pick the same subnet.
func newNetwork() (network, error) {
	unlock, err := lockFile(netLock)
	if err != nil {
		return network{}, err
	}
	defer unlock()
	n := network{id: randomHex(3)}
	if n.prefix, err = freeSubnet(); err != nil {
		return n, err
	}
	br := n.bridge()
	return n, runAll(
		[]string{ipPath, "link", "add", br, "type", "bridge"},
		[]string{ipPath, "addr", "add", n.gateway() + "/24", "dev", br},
		[]string{ipPath, "link", "set", br, "up"},
	)
}

// addNode creates node i's namespace and veth pair, with the node's
// address on eth0 and lo up.
func (n network) addNode(i int) error {
	ns, h, p := n.netns(i), n.hostVeth(i), n.peerVeth(i)
	return runAll(
		[]string{ipPath, "netns", "add", ns},
		[]string{ipPath, "link", "add", h, "type", "veth", "peer", "name", p},
		[]string{ipPath, "link", "set", h, "master", n.bridge()},
		[]string{ipPath, "link", "set", h, "up"},
		[]string{ipPath, "link", "set", p, "netns", ns},
		[]string{ipPath, "-n", ns, "link", "set", p, "name", "eth0"},
		[]string{ipPath, "-n", ns, "addr", "add", n.nodeAddr(i) + "/24", "dev", "eth0"},
		[]string{ipPath, "-n", ns, "link", "set", "eth0", "up"},
		[]string{ipPath, "-n", ns, "link", "set", "lo", "up"},
	)
}

// runAll runs each command in turn, stopping at the first failure.
func runAll(cmds ...[]string) error {
	for _, c := range cmds {
		if _, err := run(c...); err != nil {
			return err
		}
	}
	return nil
}

// freeSubnet returns "10.a.b" such that 10.a.b.0/24 overlaps no address
// or route of this machine.
func freeSubnet() (string, error) {
	used, err := usedNets()
	if err != nil {
		return "", err
	}
	for range 200 {
		a, _ := rand.Int(rand.Reader, big.NewInt(50))
		b, _ := rand.Int(rand.Reader, big.NewInt(256))
		prefix := fmt.Sprintf("10.%d.%d", 200+a.Int64(), b.Int64())
		_, cand, _ := net.ParseCIDR(prefix + ".0/24")
		if !overlapsAny(cand, used) {
			return prefix, nil
		}
	}
	return "", errors.New("no free 10.x.y.0/24 found")
}

// usedNets lists the IPv4 networks of every address and non-default
// route of this machine.
func usedNets() ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, args := range [][]string{{"-4", "-o", "addr"}, {"-4", "route"}} {
		out, err := run(append([]string{ipPath}, args...)...)
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(out) {
			if _, n, err := net.ParseCIDR(f); err == nil && !n.IP.IsUnspecified() {
				nets = append(nets, n)
			} else if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
				nets = append(nets, &net.IPNet{IP: ip.To4(), Mask: net.CIDRMask(32, 32)})
			}
		}
	}
	return nets, nil
}

// overlapsAny reports whether n overlaps any of nets.
func overlapsAny(n *net.IPNet, nets []*net.IPNet) bool {
	for _, u := range nets {
		if u.Contains(n.IP) || n.Contains(u.IP) {
			return true
		}
	}
	return false
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// netnsPIDs returns the pids of the processes in network namespace ns.
func netnsPIDs(ns string) []int {
	out, err := exec.Command(ipPath, "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		var p int
		if _, err := fmt.Sscan(f, &p); err == nil && alive(p) {
			pids = append(pids, p)
		}
	}
	return pids
}
