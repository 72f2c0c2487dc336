package sshtransport

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cutover/cutover/internal/transport"
)

// HostKeyError is a refused host key: unknown to known_hosts (Known is
// empty) or different from the keys it lists for the host.
type HostKeyError struct {
	Host        string
	Addr        string
	KnownHosts  string
	Fingerprint string // SHA256:... of the key the host presented
	KeyType     string
	Known       []string // "FILE:LINE SHA256:..." of the keys known_hosts has
}

func (e *HostKeyError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("host %s (%s): unknown host key %s %s: it is not in %s; check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it to %s",
			e.Host, e.Addr, e.KeyType, e.Fingerprint, e.KnownHosts, e.KnownHosts)
	}
	return fmt.Sprintf("host %s (%s): host key CHANGED: it presents %s %s, but %s has %v; refused (the host was reinstalled, or someone is in the middle); check on the host, then fix %s",
		e.Host, e.Addr, e.KeyType, e.Fingerprint, e.KnownHosts, e.Known, e.KnownHosts)
}

// Unwrap makes the error match transport.ErrHostKey.
func (e *HostKeyError) Unwrap() error { return transport.ErrHostKey }

// hostKeys returns the callback verifying against c.KnownHosts and the
// host key algorithms known_hosts lists for the host (so the server is asked
// for a key type known_hosts can vouch for, not refused for another).
func (c *Config) hostKeys() (ssh.HostKeyCallback, []string, error) {
	if c.KnownHosts == "" {
		return nil, nil, fmt.Errorf("host %s: no known_hosts file", c.Name)
	}
	cb, err := knownhosts.New(c.KnownHosts)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: read known_hosts: %w", c.Name, err)
	}
	verify := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		he := &HostKeyError{Host: c.Name, Addr: c.Addr(), KnownHosts: c.KnownHosts, Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type()}
		for _, k := range ke.Want {
			he.Known = append(he.Known, fmt.Sprintf("%s:%d %s", k.Filename, k.Line, ssh.FingerprintSHA256(k.Key)))
		}
		return he
	}
	return verify, knownAlgorithms(cb, c.Addr()), nil
}

// knownAlgorithms asks the callback about a key it cannot know: its
// KeyError lists the keys known_hosts has for addr.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probe), &ke) {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range ke.Want {
		for _, alg := range algorithmsFor(k.Key.Type()) {
			if !seen[alg] {
				seen[alg] = true
				out = append(out, alg)
			}
		}
	}
	return out
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// auth returns the authentication method: the identity file's key, or the
// agent's keys. closer ends the agent connection.
func (c *Config) auth() (ssh.AuthMethod, func(), error) {
	if c.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, fmt.Errorf("host %s: agent = true but SSH_AUTH_SOCK is not set", c.Name)
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: ssh-agent: %w", c.Name, err)
		}
		return ssh.PublicKeysCallback(agent.NewClient(conn).Signers), func() { conn.Close() }, nil
	}
	data, err := os.ReadFile(c.IdentityFile)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: identity file: %w", c.Name, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, nil, fmt.Errorf("host %s: identity file %s is encrypted: load it into ssh-agent and set agent = true", c.Name, c.IdentityFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: identity file %s: %w", c.Name, c.IdentityFile, err)
	}
	return ssh.PublicKeys(signer), func() {}, nil
}

func (c *Config) clientConfig() (*ssh.ClientConfig, func(), error) {
	verify, algs, err := c.hostKeys()
	if err != nil {
		return nil, nil, err
	}
	method, closer, err := c.auth()
	if err != nil {
		return nil, nil, err
	}
	return &ssh.ClientConfig{User: c.User, Auth: []ssh.AuthMethod{method}, HostKeyCallback: verify,
		HostKeyAlgorithms: algs, Timeout: c.connectTimeout()}, closer, nil
}

// dial connects and authenticates within ConnectTimeout (through the jump
// host when there is one). The returned closer ends the jump connection too.
func (c *Config) dial(ctx context.Context) (*ssh.Client, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, c.connectTimeout())
	defer cancel()
	var jump *ssh.Client
	var jumpClose func()
	var conn net.Conn
	var err error
	if c.Jump != nil {
		if jump, jumpClose, err = c.Jump.dial(ctx); err != nil {
			return nil, nil, fmt.Errorf("jump host: %w", err)
		}
		conn, err = dialThrough(ctx, jump, c.Addr())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", c.Addr())
	}
	if err != nil {
		closeAll(jumpClose)
		return nil, nil, c.unreachable("connect", err)
	}
	client, err := c.handshake(ctx, conn)
	if err != nil {
		conn.Close()
		closeAll(jumpClose)
		return nil, nil, err
	}
	return client, func() { client.Close(); closeAll(jumpClose) }, nil
}

func closeAll(fns ...func()) {
	for _, f := range fns {
		if f != nil {
			f()
		}
	}
}

// dialThrough opens a tunnelled connection; the jump client's Dial has no
// deadline of its own, so ctx's end closes the jump connection.
func dialThrough(ctx context.Context, jump *ssh.Client, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := jump.Dial("tcp", addr)
		ch <- result{conn, err}
	}()
	select {
	case r := <-ch:
		return r.conn, r.err
	case <-ctx.Done():
		jump.Close()
		return nil, ctx.Err()
	}
}

// handshake runs the SSH handshake on conn until ctx ends: a server that
// accepts the connection and never answers fails at the deadline.
func (c *Config) handshake(ctx context.Context, conn net.Conn) (*ssh.Client, error) {
	cfg, closer, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	defer closer()
	type result struct {
		client *ssh.Client
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewClientConn(conn, c.Addr(), cfg)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		ch <- result{ssh.NewClient(sc, chans, reqs), nil}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			var he *HostKeyError
			if errors.As(r.err, &he) {
				return nil, he
			}
			if strings.Contains(r.err.Error(), "unable to authenticate") {
				return nil, fmt.Errorf("host %s (%s): user %s: authentication refused (the key is not in the user's authorized_keys?): %w", c.Name, c.Addr(), c.User, r.err)
			}
			return nil, c.unreachable("ssh handshake", r.err)
		}
		return r.client, nil
	case <-ctx.Done():
		conn.Close()
		return nil, c.unreachable("ssh handshake", fmt.Errorf("no answer within %s: %w", c.connectTimeout(), ctx.Err()))
	}
}

// unreachable wraps err as transport.ErrUnreachable, naming the host.
func (c *Config) unreachable(op string, err error) error {
	return fmt.Errorf("host %s (%s): %s: %w: %w", c.Name, c.Addr(), op, transport.ErrUnreachable, err)
}
