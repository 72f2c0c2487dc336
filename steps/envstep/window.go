package envstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/steps"
)

// keysBlob is where beforeSwitch notes the keys of MinIO's new KES.
const keysBlob = "minio-kms-keys"

// keysRecord is what the new KES held just before the switch (names only:
// no secret). A rollback compares it with what the KES holds then.
type keysRecord struct {
	// Key is MinIO's default key and CreatedAt its creation time then
	// (zero when it did not exist).
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Names are every key the KES listed; Listed is false when it could
	// not list them (an identity without list permission).
	Names  []string `json:"names,omitempty"`
	Listed bool     `json:"listed"`
}

// beforeSwitch runs at the step's Apply, before the files are written:
// MinIO's default key is checked again (it must exist now), and the keys
// of MinIO's new KES are noted for the rollback.
func (s *Step) beforeSwitch(ctx context.Context, rt steps.Runtime, data []byte) error {
	actions, err := s.checkDefaultKey(ctx, rt, data, true)
	if err != nil {
		return err
	}
	for _, a := range actions {
		rt.Logf("%s", a.Summary)
	}
	_, after, err := s.kmsSwitch(rt, data)
	if err != nil || after.kind != kmsKES {
		return err
	}
	if _, ok, err := rt.LoadBlob(keysBlob); err != nil || ok {
		return err // a re-run keeps the first attempt's record
	}
	rec, err := s.kesKeys(ctx, after)
	if err != nil {
		return fmt.Errorf("note the keys at MinIO's new KMS: %w", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return rt.SaveBlob(keysBlob, b)
}

// newKES opens the KES MinIO uses after the switch.
func (s *Step) newKES(after minioKMS) (*kes.Store, *kes.Config, error) {
	cfg := s.kesConfig(after).(*kes.Config)
	st, err := kes.New(*cfg)
	return st, cfg, err
}

// kesKeys notes the default key's creation time and every key's name.
func (s *Step) kesKeys(ctx context.Context, after minioKMS) (keysRecord, error) {
	st, _, err := s.newKES(after)
	if err != nil {
		return keysRecord{}, err
	}
	rec := keysRecord{Key: after.key}
	if info, err := st.Describe(ctx, after.key); err == nil {
		rec.CreatedAt = info.CreatedAt
	}
	rec.Names, rec.Listed = listAll(ctx, st)
	return rec, nil
}

// listAll lists every key name; ok is false when the KES would not.
func listAll(ctx context.Context, st *kes.Store) ([]string, bool) {
	var names []string
	for n, err := range st.List(ctx, "*") {
		if err != nil {
			return nil, false
		}
		names = append(names, n)
	}
	return names, true
}

// Cleanup reports, in the rollback's last phase, the keys MinIO's new KES
// holds now that it did not hold just before the switch: keys MinIO
// created there during the window (its default key, created at startup
// when missing, or recreated: a creation time that changed). No step of
// this run created them (migrations run before the switch), and cutover
// never deletes a key it did not create: the summary names them and the
// command that removes them.
func (m minioStep) Cleanup(ctx context.Context, rt steps.Runtime) error {
	data, ok, err := rt.LoadBlob(keysBlob)
	if err != nil || !ok {
		return err
	}
	var rec keysRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return fmt.Errorf("read the keys noted before the switch: %w", err)
	}
	originals, err := m.files().Originals(ctx, rt)
	if err != nil {
		return err
	}
	_, after, err := m.kmsSwitch(rt, originals[0].Data)
	if err != nil {
		return err
	}
	st, cfg, err := m.newKES(after)
	if err != nil {
		return err
	}
	created, err := createdSince(ctx, st, rec)
	if err != nil {
		return fmt.Errorf("list the keys at %s, to report any MinIO created during the window: %w", cfg.Describe(), err)
	}
	if len(created) == 0 {
		rt.SetSummary(fmt.Sprintf("no key appeared at %s during the window", cfg.Describe()))
		return nil
	}
	text := fmt.Sprintf("MinIO created %s at %s during the window (this run did not create them, and cutover deletes only keys it created); remove them with: %s",
		strings.Join(created, ", "), cfg.Describe(), removeCommand(cfg, created))
	rt.Logf("%s", text)
	rt.SetSummary(text)
	return nil
}

// createdSince returns the keys st holds now that rec did not: new names
// (when rec listed them) and the default key if its creation time changed.
// An error means st could not be asked: nothing is reported then.
func createdSince(ctx context.Context, st *kes.Store, rec keysRecord) ([]string, error) {
	var created []string
	if rec.Listed {
		for n, err := range st.List(ctx, "*") {
			if err != nil {
				return nil, err
			}
			if !slices.Contains(rec.Names, n) {
				created = append(created, n)
			}
		}
	}
	info, err := st.Describe(ctx, rec.Key)
	switch {
	case errors.Is(err, providers.ErrKeyNotFound):
	case err != nil:
		return nil, err
	case !info.CreatedAt.Equal(rec.CreatedAt) && !slices.Contains(created, rec.Key):
		created = append(created, rec.Key)
	}
	slices.Sort(created)
	return created, nil
}

// removeCommand is the KES command line that deletes names (KES v0.24's
// `kes key rm`), with an API key the operator supplies.
func removeCommand(cfg *kes.Config, names []string) string {
	env := "KES_SERVER=" + cfg.Endpoint
	if cfg.CAFile != "" {
		env += " SSL_CERT_FILE=" + cfg.CAFile
	}
	return fmt.Sprintf("%s KES_API_KEY=<an API key allowed to delete keys> kes key rm %s", env, strings.Join(names, " "))
}
