package migratekeys

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/steps"
)

// undoData says where the step's journal is; the journal names the keys.
type undoData struct {
	Journal string `json:"journal"`
}

// Undo re-enables the automatic rotation the step froze (phase 1).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	return s.undoRotation(ctx, rt)
}

// Cleanup deletes the keys this run created at the target, when the plan
// asks for it (delete_created_on_rollback), including keys it created that
// then failed verification, and only while the target's key under that
// name is still the one it created (stillOurs), in the rollback's last phase:
// the service is already back on its old KMS, so an unreachable target only
// delays the cleanup. Keys that were already there, skipped or replaced are
// never deleted, nor are keys an interrupted run journaled as being
// written and never finished (whose they are cannot be told): those the
// target has are named in the step's log. Deleted keys are journaled, so a repeated
// Cleanup does not try again.
func (s *Step) Cleanup(ctx context.Context, rt steps.Runtime) error {
	if !s.deleteOnRB {
		rt.SetSummary("copied keys left in place (delete_created_on_rollback = false)")
		return nil
	}
	js, err := readJournal(rt)
	if err != nil {
		return err
	}
	src, err := s.from.Open(ctx)
	if err != nil {
		return err
	}
	dst, err := s.to.Open(ctx)
	if err != nil {
		return err
	}
	j, err := rt.OpenJournal(journalName)
	if err != nil {
		return err
	}
	defer j.Close()
	deleted := 0
	var replaced []string
	for name := range js.createdKeys() {
		ours, err := stillOurs(ctx, src, dst, name)
		if err != nil {
			return err
		}
		if !ours {
			replaced = append(replaced, name)
			continue
		}
		if err := dst.Delete(ctx, name); err != nil && !errors.Is(err, providers.ErrKeyNotFound) {
			return fmt.Errorf("delete %s at the target: %w", name, err)
		}
		if err := j.Append(record{name, recDeleted}); err != nil {
			return err
		}
		deleted++
	}
	if err := j.Sync(); err != nil { // the deletions' records; Close would drop this error
		return fmt.Errorf("journal the deleted keys: %w", err)
	}
	summary := fmt.Sprintf("deleted %d keys this run created at the target", deleted)
	if len(replaced) > 0 {
		slices.Sort(replaced)
		rt.Logf("left in place at the target, though this run created keys of these names: the target now holds other keys under them (created since, e.g. by the service): %s", nameSome(replaced))
		summary += fmt.Sprintf("; %d key(s) of those names left in place: the target holds another key under them now (named in the log)", len(replaced))
	}
	left, err := inFlightAtTarget(ctx, dst, js.inflight)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		rt.Logf("left in place at the target, journaled as being written when a run stopped (this run's, or there before: check them): %s", nameSome(left))
		summary += fmt.Sprintf("; %d key(s) an interrupted run was writing left in place (named in the log)", len(left))
	}
	rt.SetSummary(summary)
	return nil
}

// stillOurs reports whether the key dst holds under name is still the one
// this run created there, the source's: cutover deletes only keys it
// created, and a service may have created another under that name since
// (MinIO creates a missing default key at startup). Absent: true (nothing
// to delete). Where dst can neither be read nor compare keys (AWS KMS), the
// journal is the only evidence: true.
func stillOurs(ctx context.Context, src, dst providers.KeyStore, name string) (bool, error) {
	k, err := src.Get(ctx, name)
	if err != nil {
		return false, fmt.Errorf("read %s from the source, to check the target's key is the one this run created: %w", name, err)
	}
	same, err := sameAtTarget(ctx, dst, name, k)
	switch {
	case errors.Is(err, providers.ErrKeyNotFound), errors.Is(err, providers.ErrNotReadable), errors.Is(err, providers.ErrFormat):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("compare %s at the target before deleting it: %w", name, err)
	}
	return same, nil
}

// createdKeys yields the keys the journal says this run created: verified
// or not, and not deleted since.
func (js journalState) createdKeys() iter.Seq[string] {
	return func(yield func(string) bool) {
		for name, status := range js.done {
			if status == recCreated && !yield(name) {
				return
			}
		}
		for name := range js.unverified {
			if !yield(name) {
				return
			}
		}
	}
}

// inFlightAtTarget returns, in name order, the keys of inflight the target
// has (or may have: a store that never reveals material cannot say).
func inFlightAtTarget(ctx context.Context, dst providers.KeyStore, inflight map[string]bool) ([]string, error) {
	var left []string
	for name := range inflight {
		_, err := dst.Get(ctx, name)
		switch {
		case errors.Is(err, providers.ErrKeyNotFound):
			continue
		case err != nil && !errors.Is(err, providers.ErrNotReadable):
			return nil, fmt.Errorf("look up %s at the target: %w", name, err)
		}
		left = append(left, name)
	}
	slices.Sort(left)
	return left, nil
}

// maxNamed is how many keys a log line names.
const maxNamed = 20

// nameSome joins the first maxNamed names and counts the rest.
func nameSome(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more (all in the step's journal)", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

// undoRotation re-enables any rotation the step froze and did not restore.
func (s *Step) undoRotation(ctx context.Context, rt steps.Runtime) error {
	stores := map[string]providers.KeyStore{}
	for side, cfg := range map[string]providers.KeyStoreConfig{"from": s.from, "to": s.to} {
		st, err := cfg.Open(ctx)
		if err != nil {
			return err
		}
		stores[side] = st
	}
	_, err := s.thawRotation(ctx, rt, stores)
	return err
}
