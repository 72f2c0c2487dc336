// Package transport is how a step reaches a node: read a file, check it can
// be replaced, replace it atomically keeping (or setting) its mode and
// owner, and run a command with an environment that never travels on a
// command line. Local is the operator's own machine; package
// transport/sshtransport reaches a host over SSH. Another kind of target
// (a Kubernetes API) would be another implementation of Transport.
//
// Every call takes a context; implementations that use the network bound
// each call by a deadline of their own as well.
package transport

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/secret"
)

// ErrUnreachable means the node could not be reached (connection refused,
// a handshake or call that ran past its deadline, a connection that broke).
var ErrUnreachable = errors.New("unreachable")

// ErrNotWritten means a replace failed before the new file was put in
// place: the file is as it was. A replace error without it leaves the file
// in an unknown state (the rename may have happened).
var ErrNotWritten = errors.New("file not written")

// ErrHostKey means the host's key is unknown or differs from the one in
// known_hosts: the host is refused.
var ErrHostKey = errors.New("host key not trusted")

// Command is a program to run on a node.
type Command struct {
	Argv []string
	// Secret marks the arguments shown masked.
	Secret []bool
	// Env is set for the command. Over SSH it travels on the session's
	// standard input, never on a command line.
	Env map[string]string
	// Dir is the working directory ("" for the default).
	Dir string
	// Output receives the command's stdout and stderr.
	Output io.Writer
	// Secrets masks the output and errors.
	Secrets *secret.Set
}

// Transport reaches one node.
type Transport interface {
	// Name is the node's name in the plan ("local" for the operator's machine).
	Name() string
	// Check connects, verifies the node (host key, clock skew within its
	// bound) and returns a line describing it; it caches a success.
	Check(ctx context.Context) (string, error)
	// ReadFile returns a regular file's bytes, mode and owner.
	ReadFile(ctx context.Context, path string) ([]byte, fsutil.Meta, error)
	// Writable fails unless path is an existing regular file that the
	// node's user can replace (the file and its directory writable).
	Writable(ctx context.Context, path string) error
	// Replace puts data at path atomically (a temporary file in the same
	// directory, synced, renamed over path); the new file keeps the old
	// one's mode and owner, or gets perm when path does not exist.
	Replace(ctx context.Context, path string, data []byte, perm os.FileMode) error
	// Restore is Replace giving the file exactly meta's mode and owner.
	Restore(ctx context.Context, path string, data []byte, meta fsutil.Meta) error
	// Run runs a command and waits for it.
	Run(ctx context.Context, c Command) error
}
