// Package fleet starts real fleets for tests: OpenSSH servers and, on
// Linux as root, groups of nodes that each have their own network
// namespace, address, mount namespace, sshd and supervised MinIO.
//
// The contract:
//
//   - SSHD(t) starts Debian's OpenSSH sshd (/usr/sbin/sshd -D -e) on
//     127.0.0.1 and a free port with per-test host keys, a user key pair,
//     an authorized_keys file and a known_hosts file written by the
//     harness. Its Stop, Start, Kill and RotateHostKey simulate a node
//     going away, coming back and being replaced.
//   - Start(t, opts) builds a bridge and opts.Nodes network namespaces on
//     a private /24 chosen per fleet (10.x.y.0/24, never routed beyond
//     this machine). Node i (1-based) has address <net>.1i; the bridge
//     (the test process's side) has <net>.1. Each node has its own mount
//     namespace in which /etc/default and /srv are directories of its
//     own, its own sshd on port 22, and, with opts.MinIO, a supervisor
//     running one server of a distributed MinIO across all nodes.
//   - Every process the package starts is in a process group of its own
//     and is killed by the kernel if the test binary dies; every wait
//     has a deadline; cleanup (t.Cleanup) kills every process in the
//     fleet's namespaces and removes the namespaces and links by name,
//     on every exit path. Namespaces and links left by a test binary that
//     was killed are removed by the next Start (their names carry the
//     owning pid). Leftovers reports anything of this process that
//     remains.
//   - Missing programs (sshd, ssh-keygen, ip, unshare, nsenter, bin/minio)
//     skip a test, or fail it when the CI environment variable is set;
//     Start also needs root, with the same rule.
package fleet
