package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/shellquote"
)

// A failed write to the state directory (state.json, undo data, journals,
// logs, durations, the audit log) is never ignored. Before the run changed
// anything it refuses the run. After a change it stops the run before the
// next step and rolls back from the state in memory: the rollback's own
// saves are attempted and their failures noted, never allowed to stop a
// compensation. At the end (finish) state.json is saved once more and, if
// that fails too, the state in memory is written to a fallback file outside
// the state directory (checkpoint.WriteFallback), named in the error.

// errNotStarted means a step's "started" mark could not be saved, so the
// step did not act.
var errNotStarted = errors.New("the step was not started")

// noteWrite remembers the first failed write of this execution; it returns
// err unchanged. Steps' workers and log writers call it concurrently.
func (e *execution) noteWrite(err error) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if err != nil && e.writeErr == nil {
		e.writeErr = err
	}
	return err
}

// failedWrite is the first failed write, or nil.
func (e *execution) failedWrite() error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.writeErr
}

// record saves the state where the caller goes on whatever happens (a
// failure path, a rollback): a failure is noted for finish, not returned.
func (e *execution) record() {
	_ = e.noteWrite(e.store.Save(e.st)) // noted: finish reports it and writes the fallback
}

// touched reports whether any step of this run may have acted.
func (e *execution) touched() bool {
	if e.st == nil {
		return false
	}
	for _, s := range e.st.Steps {
		switch s.Status {
		case checkpoint.StatusStarted, checkpoint.StatusDone, checkpoint.StatusFailed:
			return true
		}
	}
	return false
}

// onWriteFailure ends a run whose state directory could not be written:
// refused while nothing changed, rolled back from memory after a change
// (stopped after the point of no return).
func (e *execution) onWriteFailure(ctx context.Context) Result {
	cause := fmt.Errorf("%w: %v", ErrStateWrite, e.failedWrite())
	if !e.touched() {
		return Result{Outcome: Failed, State: e.st, Err: fmt.Errorf("run refused, nothing was changed: %w", cause), Next: e.spaceHint()}
	}
	if errors.Is(e.failedWrite(), checkpoint.ErrStoreUnavailable) && e.store.OnUnavailable() == checkpoint.OnUnavailableStop {
		e.st.Phase = checkpoint.PhaseStopped
		e.st.Error = e.plan.Secrets.Redact(fmt.Sprintf("stopped before the next step: %v", cause))
		e.record()
		e.emit(event.Event{Type: event.RunEnd, Status: string(checkpoint.PhaseStopped), Message: e.st.Error})
		return Result{Outcome: Stopped, State: e.st, Err: cause}
	}
	if e.st.PastPointOfNoReturn {
		e.st.Phase = checkpoint.PhaseFailed
		e.st.Error = e.plan.Secrets.Redact(fmt.Sprintf("stopped after the point of no return (%s): %v", e.plan.PointOfNoReturn, cause))
		e.record()
		e.emit(event.Event{Type: event.RunEnd, Status: string(checkpoint.PhaseFailed), Message: e.st.Error})
		return Result{Outcome: Failed, State: e.st, Err: cause}
	}
	return e.autoRollback(ctx, cause)
}

func (e *execution) spaceHint() string {
	return fmt.Sprintf("free space in %s (or make it writable again), or choose another state directory with --state; then:\n%s",
		e.store.Dir(), e.cmd("run", ""))
}

// finish reports a failed write at the end of Run or Rollback: state.json is
// saved once more and, if that fails, the state in memory goes to the
// fallback file.
func (e *execution) finish(r Result) Result {
	writeErr := e.failedWrite()
	if writeErr == nil || e.st == nil || !e.touched() {
		return r
	}
	if r.Outcome == Completed {
		r.Outcome = Failed
	}
	if errors.Is(writeErr, checkpoint.ErrStoreUnavailable) {
		return e.storeUnavailable(r, writeErr)
	}
	what := fmt.Sprintf("the state directory %s could not be written (%v)", e.store.Dir(), writeErr)
	if err := e.store.Save(e.st); err == nil {
		r.Err = joinErr(r.Err, fmt.Errorf("%s; state.json was saved after all, the audit log or the logs may miss lines", what))
		return r
	}
	path, err := e.store.WriteFallback(e.st)
	if err != nil {
		r.Err = joinErr(r.Err, fmt.Errorf("%s, and the record of what was done and undone could not be written either (%v): the output above is the only record", what, err))
		return r
	}
	r.Err = joinErr(r.Err, fmt.Errorf("%s: what was done and undone is recorded in %s, and %s/state.json is out of date", what, path, e.store.Dir()))
	r.Next = fmt.Sprintf("read %s; once %s can be written again:\n%s\n%s", path, e.store.Dir(),
		shellquote.Join("mv", path, e.store.Dir()+"/state.json"), e.cmd("status", ""))
	return r
}

// Free-space estimate checked before a run (and a resume) starts: every step
// adds up to two state.log lines, its undo record and blobs (state.json then
// written whole, as a temp copy beside the old file), audit lines, a
// durations entry and its log; every compensation rewrites state.json. spacePerStep (64 KiB) is four times a generous 16 KiB for all of
// that; spaceBase (256 KiB) covers the lock, owner.json and durations.json.
// Journals of long steps (migrate_keys: about 100 bytes per key) and long
// command output are not in the estimate: a failure writing them is handled
// like any other failed write.
const (
	spaceBase    = 256 << 10
	spacePerStep = 64 << 10
)

// checkSpace refuses to start (or resume) when the state directory's file
// system has less free space than the estimate above.
func (e *execution) checkSpace() error {
	need := uint64(spaceBase + spacePerStep*len(e.plan.Steps))
	free, err := fsutil.FreeBytes(e.store.Dir())
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStateWrite, err)
	}
	if free < need {
		return fmt.Errorf("%w: %s has %s free, a run of %d steps needs at least %s (256 KiB + 64 KiB per step); nothing was changed",
			ErrNoSpace, e.store.Dir(), kib(free), len(e.plan.Steps), kib(need))
	}
	return nil
}

func kib(n uint64) string { return fmt.Sprintf("%d KiB", n>>10) }

// joinErr adds more to err on the same line (the CLI prints an error as one
// "cutover: error:" line); both stay visible to errors.Is.
func joinErr(err, more error) error {
	if err == nil {
		return more
	}
	return fmt.Errorf("%w; %w", err, more)
}

// storeUnavailable reports a shared state store that went away during the
// run: the local copy (the state directory) holds every write, and the next
// run, rollback or reset from this directory pushes it to the store.
func (e *execution) storeUnavailable(r Result, writeErr error) Result {
	if err := e.store.Save(e.st); err != nil && !errors.Is(err, checkpoint.ErrStoreUnavailable) {
		r.Err = joinErr(r.Err, fmt.Errorf("the state store became unreachable (%v), and the local copy %s could not be written either: %w", writeErr, e.store.Dir(), err))
		return r
	}
	r.Err = joinErr(r.Err, fmt.Errorf("the state store %s became unreachable (%v); the local copy %s holds every write", e.store.Shared(), writeErr, e.store.Dir()))
	r.Next = strings.TrimPrefix(r.Next+"\n", "\n") + "once the store is back, this pushes the local copy and goes on:\n" + e.cmd("run", "resume (or `cutover rollback` to roll back), from this directory")
	return r
}
