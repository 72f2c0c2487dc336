package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// A shared checkpoint (Remote) keeps the state directory as it is, a local
// write-ahead copy, and mirrors every durable write to a Backend before the
// write returns, so the store is never behind anything the engine acted on:
//
//   - lock.json is created with If-None-Match: * (exactly one holder);
//   - state.json is replaced with If-Match: <the ETag this process wrote or
//     read last>, and carries a serial that grows with every write (equal
//     bytes would get equal ETags);
//   - append-only files (state.log, audit.jsonl, journals) are shipped as
//     immutable segment objects named by their byte offset
//     (state.log/<serial>/<offset>, audit/<offset>, journals/<file>/<offset>),
//     created with If-None-Match: *, and read back in key order: a segment
//     pushed twice is refused, never duplicated;
//   - undo blobs and the inputs key are stored as the local files hold them
//     (age ciphertext when the plan lists recipients).
//
// When the store cannot be reached, the write still reaches the local copy;
// under OnUnavailable "rollback" the failure is returned once (the engine
// takes no further step and rolls back or stops) and later writes go to the
// local copy only; under "wait" each write retries until the store answers
// or WaitTimeout passes. Either way a pending marker (remote-pending.json)
// records that the local copy is ahead; the next Lock on this directory
// pushes it. Lock on a directory without the marker pulls the store's
// state: the store is authoritative, so any machine can resume, roll back
// or read status.

// OnUnavailable values.
const (
	// OnUnavailableRollback: no further step; roll back (before the point
	// of no return) from the local copy. The default.
	OnUnavailableRollback = "rollback"
	// OnUnavailableStop: no further step and no rollback: the run stops,
	// to be resumed (or rolled back) once the store is back.
	OnUnavailableStop = "stop"
	// OnUnavailableWait: each write waits for the store (up to
	// WaitTimeout), then the run goes on; past the wait, as "rollback".
	OnUnavailableWait = "wait"
)

// OnUnavailable is the plan's choice when the shared store goes away
// ("" for a local directory).
func (s *Store) OnUnavailable() string {
	if s.remote == nil {
		return ""
	}
	if s.remote.OnUnavailable == "" {
		return OnUnavailableRollback
	}
	return s.remote.OnUnavailable
}

// DefaultWaitTimeout bounds a wait for the state store under "wait".
const DefaultWaitTimeout = 10 * time.Minute

// Remote configures the shared store of a state directory.
type Remote struct {
	Backend Backend
	// Timeout bounds each call (DefaultCallTimeout when 0).
	Timeout time.Duration
	// OnUnavailable is OnUnavailableRollback (default) or OnUnavailableWait.
	OnUnavailable string
	// WaitTimeout bounds a wait under "wait" (DefaultWaitTimeout when 0).
	WaitTimeout time.Duration
}

// remote is a Store's view of its Remote.
type remote struct {
	Remote
	etag    string           // ETag of state.json written or read last; "" when absent
	serial  int64            // its serial
	shipped map[string]int64 // bytes of each append-only file (relative path) in the store
	offline bool             // a call failed: later writes go to the local copy only
	stale   error            // a compare-and-swap was refused: every later write is
	lockID  string
}

// Options are what Use configures on a Store.
type Options struct {
	Remote *Remote // nil: the local directory only
	Crypt  *Crypt  // nil: secrets written as they are
}

// Use configures a shared store and encryption on s.
func (s *Store) Use(o Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crypt = o.Crypt
	if o.Remote != nil {
		s.remote = &remote{Remote: *o.Remote, shipped: map[string]int64{}}
	}
}

// Shared is the store's description ("s3://bucket/prefix/plan at URL"), ""
// for a local directory.
func (s *Store) Shared() string {
	if s == nil || s.remote == nil {
		return ""
	}
	return s.remote.Backend.String()
}

func (r *remote) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultCallTimeout
}

// try runs op once under the call deadline.
func (r *remote) try(op func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout())
	defer cancel()
	return op(ctx)
}

// write runs a mirroring write (see the package comment on Remote). The
// caller holds s.mu and has written the local copy.
func (s *Store) write(op func(ctx context.Context) error) error {
	r := s.remote
	if r == nil || r.offline {
		return nil
	}
	if r.stale != nil {
		return r.stale
	}
	wait := r.WaitTimeout
	if wait <= 0 {
		wait = DefaultWaitTimeout
	}
	until := time.Now().Add(wait)
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := r.try(op)
		if err == nil || !errors.Is(err, ErrStoreUnavailable) {
			return err
		}
		if r.OnUnavailable == OnUnavailableWait && time.Now().Add(backoff).Before(until) {
			time.Sleep(backoff) // waiting for the store to come back, as the plan asks
			continue
		}
		r.offline = true
		if perr := s.markPending(); perr != nil {
			return fmt.Errorf("%w; and the pending marker could not be written: %v", err, perr)
		}
		return err
	}
}

// pending is remote-pending.json: the local copy holds writes the store
// has not got, made on top of the store's serial.
type pending struct {
	Serial int64  `json:"serial"`
	ETag   string `json:"etag"`
	LockID string `json:"lock_id"`
}

func (s *Store) pendingPath() string { return filepath.Join(s.dir, "remote-pending.json") }

func (s *Store) markPending() error {
	data, err := json.Marshal(pending{Serial: s.remote.serial, ETag: s.remote.etag, LockID: s.remote.lockID})
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.pendingPath(), data, 0o600)
}

func (s *Store) readPending() (*pending, error) {
	data, err := os.ReadFile(s.pendingPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p pending
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, &CorruptError{Path: s.pendingPath(), Problem: "is not a pending marker: " + err.Error()}
	}
	return &p, nil
}

// Pending reports whether this local copy holds writes the shared store has
// not got (it could not be reached): the next run, rollback or reset here
// pushes them.
func (s *Store) Pending() bool {
	_, err := os.Stat(s.pendingPath())
	return s.remote != nil && err == nil
}

// putState writes data (sealed state.json with serial) with compare-and-swap
// on the ETag last seen. The caller holds s.mu.
func (s *Store) putState(data []byte, serial int64) error {
	r := s.remote
	cond := Cond{IfAbsent: r.etag == "", IfMatch: r.etag}
	old := logPrefix(r.serial)
	err := s.write(func(ctx context.Context) error {
		etag, err := r.Backend.Put(ctx, "state.json", data, cond)
		if err == nil {
			r.etag, r.serial = etag, serial
		}
		return err
	})
	if errors.Is(err, ErrPrecondition) {
		r.stale = fmt.Errorf("save state.json in %s: %w (this process wrote or read serial %d): refused, nothing was overwritten; "+
			"another process holds or took over this plan's state", r.Backend, ErrStaleWriter, r.serial)
		return r.stale
	}
	if err == nil && r.shipped[old] > 0 {
		s.dropLogSegments(old)
	}
	return err
}

// dropLogSegments removes the state.log segments under prefix (an older
// serial's): the state.json just written holds their records. Best effort:
// a leftover is never read (a pull reads the current serial's only).
func (s *Store) dropLogSegments(prefix string) {
	r := s.remote
	delete(r.shipped, prefix)
	_ = r.try(func(ctx context.Context) error {
		objs, err := r.Backend.List(ctx, prefix)
		for _, o := range objs {
			if err == nil {
				err = r.Backend.Delete(ctx, o.Key)
			}
		}
		return err
	})
}

func logPrefix(serial int64) string { return fmt.Sprintf("state.log/%012d/", serial) }

// segmentPrefix is where the segments of the append-only local file rel
// (relative to the state directory) go.
func (s *Store) segmentPrefix(rel string) string {
	switch {
	case rel == "state.log":
		return logPrefix(s.remote.serial)
	case rel == "audit.jsonl":
		return "audit/"
	default:
		return rel + "/"
	}
}

// shipTail sends the bytes of the local append-only file rel after those
// already in the store, up to its last newline, as one segment. The caller
// holds s.mu.
func (s *Store) shipTail(rel string) error {
	r := s.remote
	if r == nil || r.offline {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(s.dir, rel))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	key := rel
	if rel == "state.log" {
		key = logPrefix(r.serial)
	}
	from := r.shipped[key]
	end := int64(bytes.LastIndexByte(data, '\n') + 1)
	if end <= from {
		return nil
	}
	seg := data[from:end]
	name := s.segmentPrefix(rel) + fmt.Sprintf("%012d", from)
	err = s.write(func(ctx context.Context) error {
		_, err := r.Backend.Put(ctx, name, seg, Cond{IfAbsent: true})
		return err
	})
	if errors.Is(err, ErrPrecondition) {
		r.stale = fmt.Errorf("append %s in %s: %w (segment at offset %d exists): refused, nothing was overwritten", rel, r.Backend, ErrStaleWriter, from)
		return r.stale
	}
	if err == nil && !r.offline {
		r.shipped[key] = end
	}
	return err
}

// putFile mirrors a whole local file (an undo blob, the inputs key,
// durations.json) under its relative path. The caller holds s.mu.
func (s *Store) putFile(rel string, data []byte) error {
	r := s.remote
	if r == nil {
		return nil
	}
	return s.write(func(ctx context.Context) error {
		_, err := r.Backend.Put(ctx, filepath.ToSlash(rel), data, Cond{})
		return err
	})
}

// syncRemote reconciles the local copy with the store after the lock was
// taken: it pushes a pending local copy, or pulls the store's state.
func (s *Store) syncRemote() error {
	r := s.remote
	p, err := s.readPending()
	if err != nil {
		return err
	}
	data, absent, err := s.getState()
	if err != nil {
		return err
	}
	if p == nil {
		return s.pull(data, absent)
	}
	if r.serial != p.Serial || r.etag != p.ETag {
		return fmt.Errorf("%w: %s holds writes the store %s never got (made on serial %d), and the store has moved on to serial %d since: "+
			"compare the two by hand; move %s aside to take the store's state", ErrStaleWriter, s.dir, r.Backend, p.Serial, r.serial, s.pendingPath())
	}
	return s.push()
}

// push sends what the local copy holds beyond the store: state.json (if its
// serial is newer), the tails of the append-only files, undo blobs, the
// inputs key and durations; then drops the pending marker.
func (s *Store) push() error {
	r := s.remote
	local, err := os.ReadFile(s.statePath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err == nil {
		if serial := peekSerial(local); serial > r.serial || r.etag == "" {
			if err := s.putState(local, serial); err != nil {
				return err
			}
		}
	}
	if err := s.loadShipped(); err != nil {
		return err
	}
	for _, rel := range s.appendFiles() {
		if err := s.shipTail(rel); err != nil {
			return err
		}
	}
	for _, rel := range s.wholeFiles() {
		data, err := os.ReadFile(filepath.Join(s.dir, rel))
		if err != nil {
			return err
		}
		if err := s.putFile(rel, data); err != nil {
			return err
		}
	}
	if r.offline {
		return fmt.Errorf("push %s to %s: %w", s.dir, r.Backend, ErrStoreUnavailable)
	}
	return os.Remove(s.pendingPath())
}

// loadShipped reads how many bytes of each append-only file the store holds.
func (s *Store) loadShipped() error {
	r := s.remote
	return r.try(func(ctx context.Context) error {
		for _, p := range []string{logPrefix(r.serial), "audit/", "journals/"} {
			objs, err := r.Backend.List(ctx, p)
			if err != nil {
				return err
			}
			for _, o := range objs {
				key := path.Dir(o.Key)
				switch {
				case strings.HasPrefix(o.Key, "state.log/"):
					key = logPrefix(r.serial)
				case key == "audit":
					key = "audit.jsonl"
				}
				var off int64
				fmt.Sscanf(path.Base(o.Key), "%d", &off)
				r.shipped[key] = max(r.shipped[key], off+o.Size)
			}
		}
		return nil
	})
}

// appendFiles are the local append-only files shipped as segments.
func (s *Store) appendFiles() []string {
	out := []string{"state.log", "audit.jsonl"}
	js, _ := filepath.Glob(filepath.Join(s.dir, "journals", "*"))
	for _, j := range js {
		out = append(out, filepath.Join("journals", filepath.Base(j)))
	}
	return out
}

// wholeFiles are the local files mirrored whole.
func (s *Store) wholeFiles() []string {
	var out []string
	for _, f := range []string{"inputs.key", "durations.json"} {
		if _, err := os.Stat(filepath.Join(s.dir, f)); err == nil {
			out = append(out, f)
		}
	}
	us, _ := filepath.Glob(filepath.Join(s.dir, "undo", "*"))
	for _, u := range us {
		if !strings.Contains(filepath.Base(u), ".tmp") {
			out = append(out, filepath.Join("undo", filepath.Base(u)))
		}
	}
	return out
}

// pull replaces the local copy's checkpoint with the store's: state.json
// (data; absent when the store has none), the current serial's state.log,
// the audit log, journals, undo blobs, the inputs key and durations.
func (s *Store) pull(data []byte, absent bool) error {
	r := s.remote
	for _, f := range []string{"state.json", "state.log", "audit.jsonl", "inputs.key", "durations.json"} {
		if err := os.Remove(filepath.Join(s.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, d := range []string{"undo", "journals"} {
		if err := os.RemoveAll(filepath.Join(s.dir, d)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return err
		}
	}
	r.shipped = map[string]int64{}
	if !absent {
		if err := fsutil.WriteFileAtomic(s.statePath(), data, 0o600); err != nil {
			return err
		}
	}
	var objs []Object
	err := r.try(func(ctx context.Context) error {
		var err error
		objs, err = r.Backend.List(ctx, "")
		return err
	})
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	var order []string
	for _, o := range objs {
		rel, seg := s.localName(o.Key)
		if rel == "" {
			continue
		}
		var body []byte
		if err := r.try(func(ctx context.Context) error {
			var gerr error
			body, _, gerr = r.Backend.Get(ctx, o.Key)
			return gerr
		}); err != nil {
			return err
		}
		if _, ok := files[rel]; !ok {
			order = append(order, rel)
		}
		files[rel] = append(files[rel], body...)
		if seg {
			key := rel
			if rel == "state.log" {
				key = logPrefix(r.serial)
			}
			r.shipped[key] = int64(len(files[rel]))
		}
	}
	for _, rel := range order {
		if err := fsutil.WriteFileAtomic(filepath.Join(s.dir, rel), files[rel], 0o600); err != nil {
			return err
		}
	}
	return fsutil.SyncDir(s.dir)
}

// localName maps an object key to the local file it belongs to ("" for
// objects a pull does not copy: the lock, history, other serials' logs) and
// whether it is a segment of an append-only file.
func (s *Store) localName(key string) (rel string, segment bool) {
	switch {
	case strings.HasPrefix(key, "state.log/"):
		if strings.HasPrefix(key, logPrefix(s.remote.serial)) {
			return "state.log", true
		}
		return "", false
	case strings.HasPrefix(key, "audit/"):
		return "audit.jsonl", true
	case strings.HasPrefix(key, "journals/"):
		return path.Dir(key), true
	case strings.HasPrefix(key, "undo/") || key == "inputs.key" || key == "durations.json":
		return key, false
	}
	return "", false
}

// pullAttempts bounds how often Pull reads the store again when a run
// holding the lock replaced what it had listed.
const pullAttempts = 5

// Pull copies the shared store's checkpoint into the (empty) local
// directory, without the lock: how status reads a shared checkpoint, and
// how run and rollback check it before they take the lock. A run holding
// the lock may replace or delete objects between the listing and their
// reads (a segment of an older serial, a reset); a read that finds an
// object gone starts the copy again from state.json, at most pullAttempts
// times.
func (s *Store) Pull() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote == nil {
		return nil
	}
	var err error
	for range pullAttempts {
		var data []byte
		var absent bool
		if data, absent, err = s.getState(); err != nil {
			return err
		}
		if err = s.pull(data, absent); !errors.Is(err, ErrObjectNotFound) {
			return err
		}
	}
	return fmt.Errorf("the shared checkpoint kept changing while it was read (another process holds its lock and is writing): %w", err)
}

// getState reads the store's state.json and records its ETag and serial
// (none and 0 when absent).
func (s *Store) getState() (data []byte, absent bool, err error) {
	r := s.remote
	err = r.try(func(ctx context.Context) error {
		var gerr error
		data, r.etag, gerr = r.Backend.Get(ctx, "state.json")
		return gerr
	})
	if errors.Is(err, ErrObjectNotFound) {
		r.etag, r.serial = "", 0
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	r.serial = peekSerial(data)
	return data, false, nil
}

// peekSerial is the serial of a sealed state.json; 0 if none.
func peekSerial(data []byte) int64 {
	var v struct{ Serial int64 }
	_ = json.Unmarshal(data, &v)
	return v.Serial
}

// archiveRemote moves the store's checkpoint (state.json, state.log,
// undo blobs, journals) under history/<name>/, as Archive does locally.
func (s *Store) archiveRemote(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.remote
	var objs []Object
	if err := r.try(func(ctx context.Context) error {
		var err error
		objs, err = r.Backend.List(ctx, "")
		return err
	}); err != nil {
		return err
	}
	for _, o := range objs {
		if !archived(o.Key) {
			continue
		}
		if err := r.try(func(ctx context.Context) error {
			data, _, err := r.Backend.Get(ctx, o.Key)
			if err == nil {
				_, err = r.Backend.Put(ctx, "history/"+name+"/"+o.Key, data, Cond{})
			}
			if err == nil {
				err = r.Backend.Delete(ctx, o.Key)
			}
			return err
		}); err != nil {
			return fmt.Errorf("archive %s in %s: %w", o.Key, r.Backend, err)
		}
	}
	r.etag, r.shipped = "", map[string]int64{"audit.jsonl": r.shipped["audit.jsonl"]}
	return nil
}

func archived(key string) bool {
	for _, p := range []string{"state.log/", "undo/", "journals/"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return key == "state.json"
}
