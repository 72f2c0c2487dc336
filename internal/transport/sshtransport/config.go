// Package sshtransport reaches a host over SSH (golang.org/x/crypto/ssh) and
// SFTP (github.com/pkg/sftp): a transport.Transport for the plan's `host`
// blocks.
//
// Host keys are verified against a known_hosts file (knownhosts.New); an
// unknown or changed key is refused with its SHA-256 fingerprint
// (transport.ErrHostKey). Authentication is an identity file or the
// ssh-agent at SSH_AUTH_SOCK. A jump host is dialled first and the
// connection tunnelled through it. Every network operation has a deadline:
// the TCP connect and the SSH handshake together ConnectTimeout, each file
// operation or clock reading CallTimeout; a call past its deadline closes the
// connection (the next call dials again) and fails with
// transport.ErrUnreachable. A command's environment is written on the
// session's standard input to `sh -s`, never on a command line; its
// deadline is the caller's context.
package sshtransport

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Defaults for the deadlines and the clock-skew bound.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultCallTimeout    = 30 * time.Second
	DefaultMaxClockSkew   = 5 * time.Second
)

// Config describes one host.
type Config struct {
	// Name is the host's name in the plan (host.<name>).
	Name    string
	Address string
	Port    int // 0: 22
	User    string
	// IdentityFile is a private key file (unencrypted); Agent uses the
	// ssh-agent at SSH_AUTH_SOCK instead. Exactly one is set.
	IdentityFile string
	Agent        bool
	// KnownHosts is the known_hosts file the host key must be in.
	KnownHosts string
	// Jump, if set, is the host the connection goes through.
	Jump *Config
	// ConnectTimeout bounds the TCP connect plus the SSH handshake; 0:
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// CallTimeout bounds each file operation and clock reading; 0:
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxClockSkew is the largest clock difference Check accepts; 0:
	// DefaultMaxClockSkew.
	MaxClockSkew time.Duration
}

// Addr is host:port.
func (c *Config) Addr() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Address, strconv.Itoa(port))
}

func (c *Config) connectTimeout() time.Duration {
	return orDefault(c.ConnectTimeout, DefaultConnectTimeout)
}

func (c *Config) callTimeout() time.Duration { return orDefault(c.CallTimeout, DefaultCallTimeout) }

func (c *Config) maxSkew() time.Duration { return orDefault(c.MaxClockSkew, DefaultMaxClockSkew) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// String is "name (user@host:port)".
func (c *Config) String() string {
	return fmt.Sprintf("%s (%s@%s)", c.Name, c.User, c.Addr())
}
