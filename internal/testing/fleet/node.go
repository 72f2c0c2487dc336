package fleet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Paths as a node sees them; on the host they are directories of the
// node's own (Node.Dir/etc-default and Node.Dir/srv), bind-mounted in the
// node's mount namespace.
const (
	// EnvFile is MinIO's environment file on every node.
	EnvFile = "/etc/default/minio"
	// SupervisorDir is the directory of the supervisor running MinIO.
	SupervisorDir = "/srv/supervise"
	// Drive is MinIO's one drive on every node.
	Drive = "/srv/drive"
)

// Timeouts of node operations.
const (
	holderReady = 20 * time.Second
	runTimeout  = 2 * time.Minute
)

// Node is one host of a fleet: a network namespace with address Addr, a
// mount namespace of its own (held by a process started by the harness)
// and an sshd listening on Addr:22.
type Node struct {
	Index int    // 1-based
	Name  string // "n1", "n2", ...
	Addr  string // the node's address on the fleet's bridge
	NetNS string // network namespace name (ip netns)
	SSH   *SSHServer
	Dir   string // the node's files on the host: etc-default/, srv/, ssh/

	fleet  *Fleet
	holder *proc // sleeps in the node's namespaces; its pid names them
	minio  *proc // the supervisor running MinIO, if started
	netIno string
	mntIno string
}

// startHolder creates the node's mount namespace, with its own
// /etc/default and /srv, held by a sleeping process.
func (n *Node) startHolder() error {
	etc, srv := n.hostPath("/etc/default"), n.hostPath("/srv")
	for _, d := range []string{etc, srv, filepath.Join(n.Dir, "ssh")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	ready := filepath.Join(n.Dir, "holder.ready")
	script := `mount --bind "$1" /etc/default && mount --bind "$2" /srv && : > "$3" && exec sleep infinity`
	p, err := startProc(filepath.Join(n.Dir, "holder.log"), []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		ipPath, "netns", "exec", n.NetNS, unsharePath, "-m", "--propagation", "private",
		"sh", "-c", script, "fleet-node", etc, srv, ready)
	if err != nil {
		return err
	}
	n.holder = p
	err = waitFor(n.Name+" namespaces", holderReady, func() error {
		if p.exited() {
			return errExited
		}
		_, err := os.Stat(ready)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: %s", err, logTail(p.logFile, 10))
	}
	n.netIno, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.pid()))
	n.mntIno, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", p.pid()))
	return nil
}

// hostPath maps a path under /etc/default or /srv, as the node sees it,
// to the node's own directory on the host.
func (n *Node) hostPath(nodePath string) string {
	for _, m := range [][2]string{{"/etc/default", "etc-default"}, {"/srv", "srv"}} {
		if rest, ok := strings.CutPrefix(nodePath, m[0]); ok && (rest == "" || rest[0] == '/') {
			return filepath.Join(n.Dir, m[1], rest)
		}
	}
	return nodePath
}

// enter is the argv prefix that runs a program in the node's namespaces.
func (n *Node) enter() []string {
	return []string{nsenterPath, "-t", strconv.Itoa(n.holder.pid()), "-m", "-n", "--"}
}

// Run runs argv on the node (in its namespaces, not over SSH, so it
// works while the node's sshd is down) and returns its combined output;
// an error includes the output. It gives up after two minutes.
func (n *Node) Run(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	full := append(n.enter(), argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("on %s: %s: %w: %s", n.Name, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ReadFile reads path as the node sees it (e.g. EnvFile).
func (n *Node) ReadFile(path string) ([]byte, error) {
	return os.ReadFile(n.viewPath(path))
}

// WriteFile writes path as the node sees it, with perm if it is created.
func (n *Node) WriteFile(path string, data []byte, perm os.FileMode) error {
	return os.WriteFile(n.viewPath(path), data, perm)
}

// viewPath is path seen through the holder's root, i.e. in the node's
// mount namespace.
func (n *Node) viewPath(path string) string {
	return fmt.Sprintf("/proc/%d/root%s", n.holder.pid(), path)
}

// KillSSHD kills the node's sshd and its sessions (a dropped node).
func (n *Node) KillSSHD() error { return n.SSH.Kill() }

// StartSSHD starts the node's sshd again.
func (n *Node) StartSSHD() error { return n.SSH.Start() }

// RotateHostKey gives the node's sshd a new host key; the fleet's
// known_hosts keeps the old one.
func (n *Node) RotateHostKey() error { return n.SSH.RotateHostKey() }

// stop kills everything the node runs: its supervisor, sshd, holder and
// any other process in its network namespace.
func (n *Node) stop() []error {
	var errs []error
	for _, p := range []*proc{n.minio, n.sshProc(), n.holder} {
		if p != nil {
			if err := p.kill(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	err := waitFor(n.Name+": processes in "+n.NetNS+" gone", 10*time.Second, func() error {
		pids := netnsPIDs(n.NetNS)
		for _, p := range pids {
			killTree(p)
		}
		if len(pids) > 0 {
			return fmt.Errorf("pids %v", pids)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}

// sshProc is the node's sshd process, if one was started.
func (n *Node) sshProc() *proc {
	if n.SSH == nil {
		return nil
	}
	return n.SSH.current()
}

// Stat returns the file info of path as the node sees it; its inode
// (Sys().(*syscall.Stat_t).Ino) tells whether the file was replaced.
func (n *Node) Stat(path string) (os.FileInfo, error) {
	return os.Stat(n.viewPath(path))
}
