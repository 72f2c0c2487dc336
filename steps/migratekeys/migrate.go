// Package migratekeys is the `migrate_keys` step: copy every key matching a
// pattern from one key store to another, concurrently, verifying each key
// after it is written, with a per-key journal so that a resumed run skips what
// is done and re-checks the keys that were in flight.
//
// Unlike `kes migrate` it never deletes before it creates: on a name that
// already exists, on_conflict decides — "fail" (the default: the step fails
// and the key is not touched), "verify" (identical material is skipped,
// different material fails) or "overwrite" (an atomic replace, refused for
// stores that cannot replace atomically). Automatic rotation (AWS KMS) is
// turned off on the pattern's keys for the duration and restored after, or
// by the compensation. After the copy the source is
// counted again: keys created at the source during the migration fail the
// step, since key management must be frozen for a migration.
package migratekeys

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "migrate_keys", Doc: "Copies every key matching a pattern from one key store to another, concurrently, verifying each key after it is written, with a journal so a resumed run skips what is done. It never deletes before it creates.", Config: &Config{}, Kind: steps.KindChange, Idempotent: true, Decode: decode})
}

// Conflict policies.
const (
	OnConflictFail      = "fail"
	OnConflictVerify    = "verify"
	OnConflictOverwrite = "overwrite"
)

// Config is the body of a migrate_keys step.
type Config struct {
	From        hcl.Expression `hcl:"from" type:"reference to kms.<name>" doc:"The source key store."`
	To          hcl.Expression `hcl:"to" type:"reference to kms.<name>" doc:"The target key store; another block than from."`
	Pattern     string         `hcl:"pattern,optional" default:"\"*\"" doc:"Which key names to copy: a glob (* and ? wildcards), as KES matches names."`
	OnConflict  string         `hcl:"on_conflict,optional" default:"\"fail\"" doc:"What a name already at the target does: \"fail\" (the step fails, the key is not touched), \"verify\" (identical material is skipped, different material fails) or \"overwrite\" (an atomic replace, refused for stores that cannot replace atomically)."`
	Concurrency int            `hcl:"concurrency,optional" default:"16" doc:"Keys copied at once, 1 to 256."`
	// DeleteCreatedOnRollback makes the compensation delete the keys this run
	// created at the target (never keys that were there before).
	DeleteCreatedOnRollback bool `hcl:"delete_created_on_rollback,optional" default:"false" doc:"Whether a rollback deletes the keys this run created at the target (never keys that were there before), in the rollback's cleanup phase."`
}

// Step migrates keys.
type Step struct {
	from, to    providers.KeyStoreConfig
	pattern     string
	onConflict  string
	concurrency int
	deleteOnRB  bool
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	s := &Step{pattern: c.Pattern, onConflict: c.OnConflict, concurrency: c.Concurrency, deleteOnRB: c.DeleteCreatedOnRollback}
	var d hcl.Diagnostics
	s.from, d = keyops.ResolveStore(dc, c.From, "from")
	diags = append(diags, d...)
	s.to, d = keyops.ResolveStore(dc, c.To, "to")
	diags = append(diags, d...)
	if s.pattern == "" {
		s.pattern = "*"
	}
	if s.onConflict == "" {
		s.onConflict = OnConflictFail
	}
	if s.concurrency == 0 {
		s.concurrency = keyops.DefaultConcurrency
	}
	diags = append(diags, s.check(body, c)...)
	return s, diags
}

func (s *Step) check(body hcl.Body, c Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: body.MissingItemRange().Ptr()})
	}
	switch s.onConflict {
	case OnConflictFail, OnConflictVerify, OnConflictOverwrite:
	default:
		bad("Invalid on_conflict", fmt.Sprintf("on_conflict is %q; use \"fail\", \"verify\" or \"overwrite\".", s.onConflict))
	}
	if s.concurrency < 1 || s.concurrency > 256 {
		bad("Invalid concurrency", fmt.Sprintf("concurrency is %d; use a number from 1 to 256.", s.concurrency))
	}
	if s.from != nil && s.to != nil && s.from == s.to {
		bad("Same source and target", "from and to refer to the same kms block; a migration needs two stores.")
	}
	return diags
}

// Plan opens both stores read-only, counts the keys, checks the conflict
// policy is possible, and refuses what the copy would fail on (see
// checkKeys), so that it fails before any downtime instead of during it.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	src, dst, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	n, err := keyops.Count(ctx, src, s.pattern)
	if err != nil {
		return nil, err
	}
	actions := []steps.Action{{Summary: fmt.Sprintf("copy %d keys matching %q from %s to %s, %d at a time, verifying each; on_conflict = %q",
		n, s.pattern, s.from.Describe(), s.to.Describe(), s.concurrency, s.onConflict)}}
	existing, err := s.targetNames(ctx, dst)
	if err != nil {
		// KES over Vault cannot list an empty prefix: a fresh target is
		// normal here, so this is a note, not a failed preflight.
		actions = append(actions, steps.Action{Summary: fmt.Sprintf("could not list the target's keys (%v); conflicts are handled per key", err)})
	}
	if len(existing) > 0 {
		actions = append(actions, steps.Action{
			Summary: fmt.Sprintf("the target already holds %d keys matching %q: on_conflict = %q applies to any of the same name", len(existing), s.pattern, s.onConflict)})
	}
	if err := s.checkKeys(ctx, src, dst, existing); err != nil {
		return nil, err
	}
	actions = append(actions, steps.Action{Summary: s.undoText()})
	return actions, nil
}

func (s *Step) undoText() string {
	if s.deleteOnRB {
		return "on rollback: delete the keys this run created at the target"
	}
	return "on rollback: leave the copied keys in place (delete_created_on_rollback = false)"
}

func (s *Step) open(ctx context.Context) (providers.KeyStore, providers.KeyStore, error) {
	src, dst, err := keyops.OpenPair(ctx, s.from, s.to)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := dst.(providers.Replacer); s.onConflict == OnConflictOverwrite && !ok {
		return nil, nil, fmt.Errorf("on_conflict = \"overwrite\" needs an atomic replace, and %s cannot replace a key without deleting it first; use \"verify\" or \"fail\"", s.to.Describe())
	}
	if err := s.checkVerifiable(dst); err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// WillCreate reports whether this step, when it runs, copies into the
// store target the key a service names ref there (see WillWrite).
// kms_check's `after` uses it so a plan can prove a key before downtime
// even though the key only reaches the target during the run.
func (s *Step) WillCreate(ctx context.Context, target providers.KeyStoreConfig, ref string) (bool, error) {
	_, ok, err := s.WillWrite(ctx, target, ref)
	return ok, err
}

// WillWrite implements steps.KeyWriter: this step's `to` is target or the
// store behind it (a KES's keystore), ref maps to a key name (an AWS KMS
// alias to the name; providers.WrittenAs), the name matches the pattern,
// and the source holds it; the key is read from the source now.
func (s *Step) WillWrite(ctx context.Context, target providers.KeyStoreConfig, ref string) (providers.Key, bool, error) {
	name, ok := providers.WrittenAs(target, s.to, ref)
	if !ok || s.from == nil {
		return providers.Key{}, false, nil
	}
	if ok, err := path.Match(s.pattern, name); err != nil || !ok {
		return providers.Key{}, false, err
	}
	src, err := keyops.Open(ctx, s.from)
	if err != nil {
		return providers.Key{}, false, err
	}
	k, err := src.Get(ctx, name)
	if errors.Is(err, providers.ErrKeyNotFound) {
		return providers.Key{}, false, nil
	}
	return k, err == nil, err
}
