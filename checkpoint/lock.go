package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// ErrLocked means another process holds the state directory's lock; the error
// is a *LockedError that carries the holder.
var ErrLocked = errors.New("state is locked")

// ErrLockMismatch means unlock was given an ID that is not the lock's.
var ErrLockMismatch = errors.New("lock ID does not match")

// ErrNotLocked means unlock found no lock.
var ErrNotLocked = errors.New("state is not locked")

// LockInfo says who holds a lock and why.
type LockInfo struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"`
	User      string    `json:"user"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Created   time.Time `json:"created"`
	Plan      string    `json:"plan"`
}

// LockedError is returned by Lock when the lock is held.
type LockedError struct{ Holder LockInfo }

func (e *LockedError) Error() string {
	h := e.Holder
	return fmt.Sprintf("state is locked by %s: lock %s, user %s, host %s, pid %d, since %s",
		h.Operation, h.ID, h.User, h.Host, h.PID, h.Created.Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

func (s *Store) lockPath() string { return filepath.Join(s.dir, "lock.json") }

// NewLockInfo describes the current process as a lock holder.
func NewLockInfo(operation, plan string) LockInfo {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	u := "unknown"
	if cu, err := user.Current(); err == nil {
		u = cu.Username
	}
	host, _ := os.Hostname()
	return LockInfo{ID: hex.EncodeToString(b), Operation: operation, User: u, Host: host,
		PID: os.Getpid(), Created: time.Now().UTC(), Plan: plan}
}

// Lock takes the state directory's lock for info (created with O_EXCL, so two
// processes cannot both hold it). A held lock yields a *LockedError. A lock is
// never taken over silently, even if its holder died: `cutover unlock ID`
// removes a stale one.
func (s *Store) Lock(info LockInfo) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if s.remote != nil {
		return s.lockRemote(info, append(data, '\n'))
	}
	f, err := os.OpenFile(s.lockPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		holder, rerr := s.ReadLock()
		if rerr != nil {
			return fmt.Errorf("%w (lock file unreadable: %v)", ErrLocked, rerr)
		}
		return &LockedError{Holder: *holder}
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(s.lockPath())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsutil.SyncDir(s.dir)
}

// ReadLock returns the current holder, or ErrNotLocked.
func (s *Store) ReadLock() (*LockInfo, error) {
	if s.remote != nil {
		info, _, err := s.readRemoteLock()
		return info, err
	}
	data, err := os.ReadFile(s.lockPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotLocked
	}
	if err != nil {
		return nil, err
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Unlock removes the lock if its ID is id; ErrLockMismatch otherwise.
func (s *Store) Unlock(id string) error {
	info, err := s.ReadLock()
	if err != nil {
		return err
	}
	if info.ID != id {
		return fmt.Errorf("%w: the lock's ID is %s, not %s", ErrLockMismatch, info.ID, id)
	}
	if s.remote != nil {
		return s.remote.try(func(ctx context.Context) error { return s.remote.Backend.Delete(ctx, "lock.json") })
	}
	if err := os.Remove(s.lockPath()); err != nil {
		return err
	}
	return fsutil.SyncDir(s.dir)
}

// lockRemote takes the shared store's lock with a conditional create
// (If-None-Match: *): of two racing processes exactly one succeeds. A lock
// this local copy recorded as its own when the store went away (the
// pending marker) is taken back with If-Match on its ETag. Then the local
// copy is reconciled with the store (pushed or pulled); if that fails the
// lock is released again.
func (s *Store) lockRemote(info LockInfo, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.remote
	err := r.try(func(ctx context.Context) error {
		_, err := r.Backend.Put(ctx, "lock.json", data, Cond{IfAbsent: true})
		return err
	})
	if errors.Is(err, ErrPrecondition) {
		err = s.retakeLock(data)
	}
	if err != nil {
		return err
	}
	r.lockID, r.offline, r.stale = info.ID, false, nil
	if err := s.syncRemote(); err != nil {
		_ = r.try(func(ctx context.Context) error { return r.Backend.Delete(ctx, "lock.json") })
		return fmt.Errorf("reconcile %s with %s: %w", s.dir, r.Backend, err)
	}
	return nil
}

// retakeLock replaces a held lock only when the pending marker of this
// local copy names it (its holder could not release it because the store
// was away); otherwise it is a *LockedError.
func (s *Store) retakeLock(data []byte) error {
	holder, etag, err := s.readRemoteLock()
	if errors.Is(err, ErrNotLocked) { // released in between: try once more
		return s.remote.try(func(ctx context.Context) error {
			_, err := s.remote.Backend.Put(ctx, "lock.json", data, Cond{IfAbsent: true})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("%w (lock unreadable: %v)", ErrLocked, err)
	}
	if p, _ := s.readPending(); p == nil || p.LockID == "" || p.LockID != holder.ID {
		return &LockedError{Holder: *holder}
	}
	err = s.remote.try(func(ctx context.Context) error {
		_, err := s.remote.Backend.Put(ctx, "lock.json", data, Cond{IfMatch: etag})
		return err
	})
	if errors.Is(err, ErrPrecondition) {
		return &LockedError{Holder: *holder}
	}
	return err
}

func (s *Store) readRemoteLock() (*LockInfo, string, error) {
	var data []byte
	var etag string
	err := s.remote.try(func(ctx context.Context) error {
		var err error
		data, etag, err = s.remote.Backend.Get(ctx, "lock.json")
		return err
	})
	if errors.Is(err, ErrObjectNotFound) {
		return nil, "", ErrNotLocked
	}
	if err != nil {
		return nil, "", err
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, "", fmt.Errorf("lock.json in %s: %w", s.remote.Backend, err)
	}
	return &info, etag, nil
}
