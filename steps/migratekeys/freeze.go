package migratekeys

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

// rotationJournal records the keys whose automatic rotation the step turned
// off, durably before each change, so that the end of the step — or its
// compensation after a crash or failure — turns each back on as it was.
const rotationJournal = "rotation"

type frozen struct {
	Store  string `json:"store"` // "from" or "to"
	Key    string `json:"k"`
	Period int32  `json:"period,omitempty"`
	Thawed bool   `json:"thawed,omitempty"`
}

// freezeRotation turns off automatic rotation on every key of the pattern in
// stores that rotate, recording each first.
func (s *Step) freezeRotation(ctx context.Context, rt steps.Runtime, stores map[string]providers.KeyStore) error {
	j, err := rt.OpenJournal(rotationJournal)
	if err != nil {
		return err
	}
	defer j.Close()
	var mu sync.Mutex
	for side, store := range stores {
		rf, ok := store.(providers.RotationFreezer)
		if !ok {
			continue
		}
		err := keyops.ForEach(ctx, store, s.pattern, s.concurrency, false, func(ctx context.Context, name string) error {
			on, period, err := rf.Rotation(ctx, name)
			if err != nil || !on {
				return err
			}
			mu.Lock()
			err = j.Append(frozen{Store: side, Key: name, Period: period})
			if err == nil {
				err = j.Sync()
			}
			mu.Unlock()
			if err != nil {
				return err
			}
			return rf.SetRotationPeriod(ctx, name, false, 0)
		})
		if err != nil {
			return fmt.Errorf("freeze automatic rotation on %s: %w", store.Name(), err)
		}
	}
	return nil
}

// thawRotation turns rotation back on for every key the journal says was
// frozen and not yet thawed, with its recorded period.
func (s *Step) thawRotation(ctx context.Context, rt steps.Runtime, stores map[string]providers.KeyStore) (int, error) {
	pending := map[string]frozen{}
	err := rt.ReadJournal(rotationJournal, func(line []byte) error {
		var f frozen
		if json.Unmarshal(line, &f) == nil {
			id := f.Store + "/" + f.Key
			if f.Thawed {
				delete(pending, id)
			} else {
				pending[id] = f
			}
		}
		return nil
	})
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	j, err := rt.OpenJournal(rotationJournal)
	if err != nil {
		return 0, err
	}
	defer j.Close()
	for _, f := range pending {
		rf, ok := stores[f.Store].(providers.RotationFreezer)
		if !ok {
			return 0, fmt.Errorf("store %s no longer supports rotation; re-enable rotation of %s by hand", f.Store, f.Key)
		}
		if err := rf.SetRotationPeriod(ctx, f.Key, true, f.Period); err != nil {
			return 0, fmt.Errorf("re-enable automatic rotation of %s: %w", f.Key, err)
		}
		f.Thawed = true
		if err := j.Append(f); err != nil {
			return 0, err
		}
	}
	return len(pending), j.Sync()
}
