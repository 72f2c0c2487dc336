package sshtransport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/transport"
)

// Host is a transport.Transport over SSH. It dials on first use and keeps
// the connection for later calls; a call that fails on a broken connection
// or runs past its deadline drops it, and the next call dials again. Safe
// for concurrent use.
type Host struct {
	cfg *Config

	mu      sync.Mutex
	client  *ssh.Client
	sftp    *sftp.Client
	closeFn func()
	checked string // Check's line, once it succeeded
}

// New returns a Host for cfg; nothing is dialled yet.
func New(cfg *Config) *Host { return &Host{cfg: cfg} }

// Config returns the host's configuration.
func (h *Host) Config() *Config { return h.cfg }

// Name is the host's name in the plan.
func (h *Host) Name() string { return h.cfg.Name }

// Close ends the connection, if any.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked()
	return nil
}

func (h *Host) dropLocked() {
	if h.sftp != nil {
		h.sftp.Close()
	}
	if h.closeFn != nil {
		h.closeFn()
	}
	h.client, h.sftp, h.closeFn = nil, nil, nil
}

// drop closes the connection if it is still c.
func (h *Host) drop(c *ssh.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == c {
		h.dropLocked()
	}
}

// conn returns the live connection and its SFTP client, dialling if needed.
func (h *Host) conn(ctx context.Context) (*ssh.Client, *sftp.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil {
		return h.client, h.sftp, nil
	}
	client, closeFn, err := h.cfg.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	var sc *sftp.Client
	err = h.withDeadline(ctx, client, "start sftp", func() error {
		var err error
		sc, err = sftp.NewClient(client)
		return err
	})
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	h.client, h.sftp, h.closeFn = client, sc, closeFn
	go func() { // a connection that ends (the server went away) is dropped
		_ = client.Wait()
		h.drop(client)
	}()
	return h.client, h.sftp, nil
}

// withDeadline runs fn until CallTimeout or ctx's end, whichever comes
// first; past it the connection is closed (fn's call then returns) and the
// error is transport.ErrUnreachable.
func (h *Host) withDeadline(ctx context.Context, client *ssh.Client, op string, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.callTimeout())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		client.Close()
		<-done
		return h.cfg.unreachable(op, fmt.Errorf("no answer within %s: %w", h.cfg.callTimeout(), ctx.Err()))
	}
}

// call runs fn with the SFTP client under the call deadline. An error of a
// connection that broke is transport.ErrUnreachable and drops it.
func (h *Host) call(ctx context.Context, op string, fn func(*sftp.Client) error) error {
	client, sc, err := h.conn(ctx)
	if err != nil {
		return err
	}
	err = h.withDeadline(ctx, client, op, func() error { return fn(sc) })
	if err != nil && (errors.Is(err, transport.ErrUnreachable) || broken(err)) {
		h.drop(client)
		if !errors.Is(err, transport.ErrUnreachable) {
			err = h.cfg.unreachable(op, err)
		}
	}
	return err
}

// broken reports errors of a connection that is gone.
func broken(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sftp.ErrSSHFxConnectionLost) ||
		strings.Contains(err.Error(), "connection lost") || strings.Contains(err.Error(), "use of closed network connection")
}

// ReadFile reads a regular file over SFTP.
func (h *Host) ReadFile(ctx context.Context, p string) ([]byte, fsutil.Meta, error) {
	var data []byte
	var meta fsutil.Meta
	err := h.call(ctx, "read "+p, func(sc *sftp.Client) error {
		f, err := sc.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		meta = metaOf(fi)
		data, err = io.ReadAll(f)
		return err
	})
	if err != nil {
		return nil, fsutil.Meta{}, fmt.Errorf("host %s: %w", h.cfg.Name, err)
	}
	return data, meta, nil
}

func metaOf(fi os.FileInfo) fsutil.Meta {
	m := fsutil.Meta{Mode: fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		m.UID, m.GID, m.HasOwner = int(st.UID), int(st.GID), true
	}
	return m
}

// Writable checks, on the host, that path is a regular file that the user
// can write and replace (its directory is writable).
func (h *Host) Writable(ctx context.Context, p string) error {
	var out strings.Builder
	script := `test -f "$P" || { echo "not a regular file"; exit 1; }
test -w "$P" || { echo "file not writable by $(id -un)"; exit 1; }
test -w "$(dirname "$P")" || { echo "directory not writable by $(id -un), so the file cannot be replaced atomically"; exit 1; }`
	ctx, cancel := context.WithTimeout(ctx, h.cfg.callTimeout())
	defer cancel()
	if err := h.script(ctx, map[string]string{"P": p}, script, &out); err != nil {
		if errors.Is(err, transport.ErrUnreachable) {
			return err
		}
		return fmt.Errorf("host %s: %s: %s", h.cfg.Name, p, strings.TrimSpace(out.String()))
	}
	return nil
}

// Replace writes data to a temporary file beside path (mode and owner of
// the file it replaces, else perm), syncs it and renames it over path
// (posix-rename@openssh.com).
func (h *Host) Replace(ctx context.Context, p string, data []byte, perm os.FileMode) error {
	return h.put(ctx, p, data, func(sc *sftp.Client, target string) (fsutil.Meta, error) {
		fi, err := sc.Stat(target)
		if errors.Is(err, os.ErrNotExist) {
			return fsutil.Meta{Mode: perm}, nil
		}
		if err != nil {
			return fsutil.Meta{}, err
		}
		if !fi.Mode().IsRegular() {
			return fsutil.Meta{}, fmt.Errorf("%s is not a regular file", target)
		}
		return metaOf(fi), nil
	})
}

// Restore is Replace with exactly meta's mode and owner.
func (h *Host) Restore(ctx context.Context, p string, data []byte, meta fsutil.Meta) error {
	return h.put(ctx, p, data, func(*sftp.Client, string) (fsutil.Meta, error) { return meta, nil })
}

// put is the atomic replace. An error before the rename wraps
// transport.ErrNotWritten (the temporary file is removed).
func (h *Host) put(ctx context.Context, p string, data []byte, metaFn func(*sftp.Client, string) (fsutil.Meta, error)) error {
	renamed := false
	err := h.call(ctx, "replace "+p, func(sc *sftp.Client) error {
		target, err := resolve(sc, p)
		if err != nil {
			return err
		}
		meta, err := metaFn(sc, target)
		if err != nil {
			return err
		}
		tmp, err := writeTemp(sc, target, data, meta)
		if err != nil {
			return err
		}
		renamed = true
		if err := sc.PosixRename(tmp, target); err != nil {
			_ = sc.Remove(tmp)
			return err
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if !renamed {
		return fmt.Errorf("host %s: %w: %w", h.cfg.Name, transport.ErrNotWritten, err)
	}
	return fmt.Errorf("host %s: %w", h.cfg.Name, err)
}

// resolve follows a symbolic link at p (the link is kept, its target replaced).
func resolve(sc *sftp.Client, p string) (string, error) {
	for i := 0; i < 40; i++ {
		fi, err := sc.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		dest, err := sc.ReadLink(p)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(dest) {
			dest = path.Join(path.Dir(p), dest)
		}
		p = dest
	}
	return "", fmt.Errorf("%s: too many symbolic links", p)
}

// writeTemp creates .<name>.tmp-<random> beside target with meta's owner
// (when set) then mode, writes data and syncs it.
func writeTemp(sc *sftp.Client, target string, data []byte, meta fsutil.Meta) (string, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(target), "."+path.Base(target)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return "", err
	}
	err = fillTemp(sc, f, tmp, data, meta)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = sc.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

func fillTemp(sc *sftp.Client, f *sftp.File, tmp string, data []byte, meta fsutil.Meta) error {
	if meta.HasOwner {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if now := metaOf(fi); now.UID != meta.UID || now.GID != meta.GID {
			if err := sc.Chown(tmp, meta.UID, meta.GID); err != nil {
				return fmt.Errorf("set owner %d:%d: %w", meta.UID, meta.GID, err)
			}
		}
	}
	if err := sc.Chmod(tmp, meta.Mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if _, ok := sc.HasExtension("fsync@openssh.com"); ok {
		return f.Sync()
	}
	return nil
}

// Check dials (verifying the host key), reads the host's clock and refuses
// a skew beyond MaxClockSkew. A success is cached.
func (h *Host) Check(ctx context.Context) (string, error) {
	h.mu.Lock()
	line := h.checked
	h.mu.Unlock()
	if line != "" {
		return line, nil
	}
	skew, rtt, err := h.ClockSkew(ctx)
	if err != nil {
		return "", err
	}
	line = fmt.Sprintf("host %s: connected (%s@%s), clock skew %s (round trip %s)", h.cfg.Name, h.cfg.User, h.cfg.Addr(), skew.Round(time.Millisecond), rtt.Round(time.Millisecond))
	if abs(skew) > h.cfg.maxSkew() {
		return "", fmt.Errorf("host %s: clock skew %s exceeds max_clock_skew %s: fix the host's time (NTP), or raise max_clock_skew", h.cfg.Name, skew, h.cfg.maxSkew())
	}
	h.mu.Lock()
	h.checked = line
	h.mu.Unlock()
	return line, nil
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// ClockSkew reads the host's clock and returns how far it is ahead of
// this machine's (the middle of the round trip), and the round trip. The
// session is started first (`read _; date +%s%N`) and the clock read when
// a newline arrives, so the session's start-up is not measured.
func (h *Host) ClockSkew(ctx context.Context) (skew, rtt time.Duration, err error) {
	client, _, err := h.conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	var line string
	var start, end time.Time
	err = h.withDeadline(ctx, client, "read the clock", func() error {
		sess, err := client.NewSession()
		if err != nil {
			return err
		}
		defer sess.Close()
		in, err := sess.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := sess.StdoutPipe()
		if err != nil {
			return err
		}
		if err := sess.Start("echo ready; read _; date +%s%N"); err != nil {
			return err
		}
		r := bufio.NewReader(stdout)
		if _, err := r.ReadString('\n'); err != nil { // the shell is up
			return err
		}
		start = time.Now()
		if _, err := in.Write([]byte("\n")); err != nil {
			return err
		}
		line, err = r.ReadString('\n')
		end = time.Now()
		return err
	})
	if err != nil {
		return 0, 0, h.lost(client, "read the clock", err)
	}
	ns, perr := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if perr != nil {
		return 0, 0, fmt.Errorf("host %s: read the clock: unexpected output of date +%%s%%N", h.cfg.Name)
	}
	rtt = end.Sub(start)
	return time.Unix(0, ns).Sub(start.Add(rtt / 2)), rtt, nil
}
