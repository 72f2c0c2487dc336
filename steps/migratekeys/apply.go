package migratekeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/faultpoint"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

// journalName is the step's per-key journal.
const journalName = "keys"

// Journal record statuses.
const (
	recStart   = "start"   // about to write the key (durable before the write)
	recCreated = "created" // this run created the key at the target
	// recUnverified: this run created the key at the target and its
	// verification failed: a resume verifies it again, a rollback cleanup
	// deletes it like a created key.
	recUnverified = "unverified"
	recSkipped    = "skipped"  // an identical key was already there
	recReplaced   = "replaced" // the target's key was replaced (overwrite)
	recDeleted    = "deleted"  // the compensation deleted a key this run created
)

type record struct {
	Key    string `json:"k"`
	Status string `json:"s"`
}

// progress counts what a run did.
type progress struct {
	total, done, created, skipped, replaced, resumed, written atomic.Int64
}

// journalState is what an earlier attempt recorded.
type journalState struct {
	done       map[string]string // key -> final status
	inflight   map[string]bool   // started, not finished
	unverified map[string]bool   // created by this run, verification failed
}

func readJournal(rt steps.Runtime) (journalState, error) {
	js := journalState{done: map[string]string{}, inflight: map[string]bool{}, unverified: map[string]bool{}}
	err := rt.ReadJournal(journalName, func(line []byte) error {
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil
		}
		switch r.Status {
		case recStart:
			js.inflight[r.Key] = true
		case recDeleted:
			delete(js.done, r.Key)
			delete(js.unverified, r.Key)
		case recUnverified:
			js.unverified[r.Key] = true
			delete(js.inflight, r.Key)
		default:
			js.done[r.Key] = r.Status
			delete(js.inflight, r.Key)
			delete(js.unverified, r.Key)
		}
		return nil
	})
	return js, err
}

// Apply copies and verifies every key, resuming from the journal.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	src, dst, err := s.open(ctx)
	if err != nil {
		return err
	}
	if err := rt.SaveUndo(undoData{Journal: journalName}); err != nil {
		return err
	}
	js, err := readJournal(rt)
	if err != nil {
		return err
	}
	var p progress
	before, err := keyops.Count(ctx, src, s.pattern)
	if err != nil {
		return err
	}
	p.total.Store(before)
	stores := map[string]providers.KeyStore{"from": src, "to": dst}
	if err := s.freezeRotation(ctx, rt, stores); err != nil {
		return err
	}
	if err := s.copyAll(ctx, rt, src, dst, js, &p); err != nil {
		return err
	}
	thawed, err := s.thawRotation(ctx, rt, stores)
	if err != nil {
		return err
	}
	if thawed > 0 {
		rt.SetOutput("rotation_restored", fmt.Sprint(thawed))
	}
	return s.finish(ctx, rt, src, before, &p)
}

func (s *Step) copyAll(ctx context.Context, rt steps.Runtime, src, dst providers.KeyStore, js journalState, p *progress) error {
	j, err := rt.OpenJournal(journalName)
	if err != nil {
		return err
	}
	defer j.Close()
	g := checkpoint.NewGroupJournal(j)
	names := journalIntents(keyops.Listing(ctx, src, s.pattern), g, js.done)
	err = keyops.ForEachName(ctx, names, s.concurrency, false, func(ctx context.Context, name string) error {
		defer rt.Progress(steps.Progress{Done: p.done.Add(1), Total: p.total.Load(), Unit: "keys"})
		if _, ok := js.done[name]; ok {
			p.resumed.Add(1)
			return nil
		}
		status, err := s.copyOne(ctx, src, dst, name, js.inflight[name] || js.unverified[name])
		if status != "" {
			p.count(status)
			if jerr := g.Append(record{name, status}); jerr != nil {
				return jerr
			}
		}
		if err != nil {
			return err
		}
		if n := p.written.Add(1); faultpoint.Armed() {
			faultpoint.Hit(fmt.Sprintf("after-key:%s:%d", rt.StepID(), n))
		}
		return nil
	})
	if serr := g.Sync(); err == nil {
		err = serr
	}
	return err
}

// intentBatch is how many keys' start records one fsync makes durable.
const intentBatch = 64

// journalIntents passes names on in batches of intentBatch, after
// journaling a start record for each name not done yet and making the
// batch durable: no key is written before its start is on disk, for one
// fsync per batch rather than one per few keys. A crash leaves at most a
// batch and the workers' queue journaled as started and not written;
// resuming re-checks them at the target (see copyOne).
func journalIntents(names iter.Seq2[string, error], g *checkpoint.GroupJournal, done map[string]string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		batch := make([]string, 0, intentBatch)
		release := func() bool {
			if err := g.Sync(); err != nil {
				yield("", err)
				return false
			}
			for _, name := range batch {
				if !yield(name, nil) {
					return false
				}
			}
			batch = batch[:0]
			return true
		}
		for name, err := range names {
			if err != nil {
				if release() {
					yield("", err)
				}
				return
			}
			if _, ok := done[name]; !ok {
				if err := g.Append(record{name, recStart}); err != nil {
					yield("", err)
					return
				}
			}
			if batch = append(batch, name); len(batch) == intentBatch && !release() {
				return
			}
		}
		release()
	}
}

func (p *progress) count(status string) {
	switch status {
	case recCreated:
		p.created.Add(1)
	case recSkipped:
		p.skipped.Add(1)
	case recReplaced:
		p.replaced.Add(1)
	}
}

// copyOne copies one key and verifies it, and returns the key's journal
// status: recCreated, recSkipped or recReplaced; recUnverified with the
// error when it created the key and the key then failed verification (so
// that the key is accounted for: a rollback deletes it); "" with an error
// when it wrote nothing. wasInFlight means an earlier attempt journaled the
// key as started (or created and unverified) but not finished: if the
// target has it with the source's material, the earlier attempt wrote it.
func (s *Step) copyOne(ctx context.Context, src, dst providers.KeyStore, name string, wasInFlight bool) (string, error) {
	k, err := src.Get(ctx, name)
	if errors.Is(err, providers.ErrNotReadable) {
		return "", fmt.Errorf("%s never reveals key material, so keys cannot be copied from it", s.from.Describe())
	}
	if err != nil {
		return "", fmt.Errorf("read from source: %w", err)
	}
	err = dst.Create(ctx, name, k)
	switch {
	case err == nil:
		return created(keyops.Verify(ctx, dst, name, k))
	case !errors.Is(err, providers.ErrKeyExists):
		return "", fmt.Errorf("write to target: %w", err)
	case wasInFlight:
		ours, serr := writtenBefore(ctx, dst, name, k)
		if serr == nil && ours {
			return recCreated, nil
		}
		if errors.Is(serr, providers.ErrFormat) {
			// The same key, which an earlier attempt created: it stays
			// accounted for as this run's.
			return created(fmt.Errorf("verification failed: %w", serr))
		}
	}
	return s.conflict(ctx, dst, name, k)
}

// created is the status of a key this run created, given its verification.
func created(verifyErr error) (string, error) {
	if verifyErr != nil {
		return recUnverified, verifyErr
	}
	return recCreated, nil
}

// writtenBefore decides whether a key an interrupted attempt was writing is
// the one it wrote: the same key where the target can be read or can
// compare keys (providers.Comparer); where it can do neither, the key's
// existence after our journaled start plus a round trip is the strongest
// evidence available.
func writtenBefore(ctx context.Context, dst providers.KeyStore, name string, k providers.Key) (bool, error) {
	same, err := sameAtTarget(ctx, dst, name, k)
	if !errors.Is(err, providers.ErrNotReadable) {
		return same, err
	}
	return true, keyops.Verify(ctx, dst, name, k)
}

func (s *Step) conflict(ctx context.Context, dst providers.KeyStore, name string, k providers.Key) (string, error) {
	switch s.onConflict {
	case OnConflictOverwrite:
		if err := dst.(providers.Replacer).Replace(ctx, name, k); err != nil {
			return "", fmt.Errorf("replace at target: %w", err)
		}
		return recReplaced, keyops.Verify(ctx, dst, name, k)
	case OnConflictVerify:
		same, err := sameAtTarget(ctx, dst, name, k)
		if errors.Is(err, providers.ErrFormat) {
			return "", fmt.Errorf("exists at the target, which %w; it was not touched", err)
		}
		if err != nil {
			return "", fmt.Errorf("exists at the target and cannot be compared (on_conflict = \"verify\"): %w; it was not touched", err)
		}
		if !same {
			return "", errors.New("exists at the target with DIFFERENT material (on_conflict = \"verify\"); it was not touched")
		}
		return recSkipped, nil
	}
	return "", errors.New("already exists at the target (on_conflict = \"fail\"); it was not touched")
}

// sameAtTarget reports whether dst holds exactly k under name: by reading
// and comparing the material, or, where dst never reveals material
// (providers.ErrNotReadable), by the store's own comparison when it is a
// providers.Comparer (KES). A store that can do neither returns
// ErrNotReadable.
func sameAtTarget(ctx context.Context, dst providers.KeyStore, name string, k providers.Key) (bool, error) {
	got, err := dst.Get(ctx, name)
	if errors.Is(err, providers.ErrNotReadable) {
		if c, ok := dst.(providers.Comparer); ok {
			return c.SameKey(ctx, name, k)
		}
	}
	if err != nil {
		return false, err
	}
	return keyops.Same(got, k), nil
}

// finish checks the source did not change and records the outputs.
func (s *Step) finish(ctx context.Context, rt steps.Runtime, src providers.KeyStore, before int64, p *progress) error {
	after, err := keyops.Count(ctx, src, s.pattern)
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the source changed during the migration: %d keys matched %q before, %d after; halt key creation at the source and run the step again", before, s.pattern, after)
	}
	totals, err := journalTotals(rt)
	if err != nil {
		return err
	}
	rt.SetOutput("count", fmt.Sprint(before))
	rt.SetOutput("created", fmt.Sprint(totals[recCreated]))
	rt.SetOutput("skipped", fmt.Sprint(totals[recSkipped]))
	rt.SetOutput("replaced", fmt.Sprint(totals[recReplaced]))
	rt.SetSummary(fmt.Sprintf("%d keys: %d created, %d identical skipped, %d replaced over every attempt, %d already done before a resume; every key verified",
		before, totals[recCreated], totals[recSkipped], totals[recReplaced], p.resumed.Load()))
	return nil
}

// journalTotals counts the final records of every attempt, streaming the
// journal (each key has one final record), so the outputs describe the whole
// step even after retries and resumes.
func journalTotals(rt steps.Runtime) (map[string]int64, error) {
	totals := map[string]int64{}
	err := rt.ReadJournal(journalName, func(line []byte) error {
		var r record
		if json.Unmarshal(line, &r) == nil && r.Status != recStart {
			totals[r.Status]++
		}
		return nil
	})
	return totals, err
}
