package migratekeys

import (
	"context"
	"errors"
	"fmt"

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
// asks for it (delete_created_on_rollback), in the rollback's last phase:
// the service is already back on its old KMS, so an unreachable target only
// delays the cleanup. Keys that were already there, skipped or replaced are
// never deleted, nor are keys an interrupted run journaled as being
// written and never finished (whose they are cannot be told): those are
// named in the step's log. Deleted keys are journaled, so a repeated
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
	for name, status := range js.done {
		if status != recCreated {
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
	summary := fmt.Sprintf("deleted %d keys this run created at the target", deleted)
	if n := len(js.inflight); n > 0 {
		for name := range js.inflight {
			rt.Logf("left in place: %s was journaled as being written when a run stopped; it may be this run's or may have been there before", name)
		}
		summary += fmt.Sprintf("; %d key(s) an interrupted run was writing left in place (see the step's log)", n)
	}
	rt.SetSummary(summary)
	return nil
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
