// Package kmscheck is the `kms_check` step: prove, before any downtime, that
// a key on the target KMS exists, is enabled, and works with the credentials
// the service will use — an encrypt/decrypt round trip. For AWS KMS the key
// may be any key ID, ARN or alias (the app's AWS_KMS_KEY_ARN); for other
// stores it is a key name. Its Plan performs the same check, so `cutover
// plan` and the run's preflight refuse a plan whose key does not work.
package kmscheck

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "kms_check", Doc: "Proves before any downtime that a key on a key store exists, is enabled and works with the configured credentials (an encrypt/decrypt round trip); its plan does the same check.", Config: &Config{}, Kind: steps.KindNone, Idempotent: true, Decode: decode})
}

// Config is the body of a kms_check step.
type Config struct {
	KMS hcl.Expression `hcl:"kms" type:"reference to kms.<name>" doc:"The key store to check."`
	Key string         `hcl:"key" doc:"The key: a name, or for AWS KMS any key ID, ARN or alias."`
	// After names an earlier migrate_keys step that copies the key into the
	// store: before the run, a key missing from the store passes the
	// preflight if that step will create it.
	After hcl.Expression `hcl:"after,optional" type:"reference to step.migrate_keys.<name>" doc:"An earlier migrate_keys step that copies the key into the store: before the run, a key not there yet passes the preflight if that step will copy it."`
}

// Creator is what `after` must refer to: a step that copies keys into a store.
type Creator interface {
	WillCreate(ctx context.Context, target providers.KeyStoreConfig, name string) (bool, error)
}

// Step checks one key.
type Step struct {
	store   providers.KeyStoreConfig
	key     string
	after   Creator
	afterID string
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	s := &Step{key: c.Key}
	var d hcl.Diagnostics
	s.store, d = keyops.ResolveStore(dc, c.KMS, "kms")
	diags = append(diags, d...)
	if c.After != nil {
		diags = append(diags, s.decodeAfter(dc, c.After)...)
	}
	return s, diags
}

func (s *Step) decodeAfter(dc *hcldecode.Context, expr hcl.Expression) hcl.Diagnostics {
	id, impl, diags := steps.Ref(dc, expr, "after")
	if diags.HasErrors() || impl == nil {
		return diags
	}
	cr, ok := impl.(Creator)
	if !ok {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Not a key-copying step",
			Detail: fmt.Sprintf("after must refer to a migrate_keys step; %s is not one.", id), Subject: expr.Range().Ptr()})
	}
	s.after, s.afterID = cr, id
	return diags
}

func (s *Step) check(ctx context.Context) error {
	if s.store == nil {
		return fmt.Errorf("the step's key store has errors")
	}
	store, err := keyops.Open(ctx, s.store)
	if err != nil {
		return err
	}
	if kc, ok := store.(providers.KeyChecker); ok {
		err = kc.RoundTrip(ctx, s.key)
	} else if p, ok := store.(providers.Prover); ok {
		err = p.Prove(ctx, s.key)
	} else {
		return fmt.Errorf("%s offers no way to prove a key works", s.store.Describe())
	}
	if err != nil {
		return fmt.Errorf("key %s on %s does not work: %w", s.key, s.store.Describe(), err)
	}
	return nil
}

// Plan performs the round trip (it changes nothing). With `after`, a key
// not on the store yet passes if that step will copy it there.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if err := s.check(ctx); err != nil {
		if s.after == nil || !errors.Is(err, providers.ErrKeyNotFound) {
			return nil, err
		}
		will, werr := s.after.WillCreate(ctx, s.store, s.key)
		if werr != nil || !will {
			return nil, fmt.Errorf("%w, and %s will not copy it there (its source has no key %s matching its pattern)", err, s.afterID, s.key)
		}
		return []steps.Action{{Summary: fmt.Sprintf("key %s is not on %s yet; %s will copy it there; then check it exists and round-trips", s.key, s.store.Describe(), s.afterID)}}, nil
	}
	return []steps.Action{{Summary: fmt.Sprintf("key %s on %s: exists, enabled, encrypt/decrypt round trip OK now", s.key, s.store.Describe())}}, nil
}

// Apply checks again at its place in the run.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	rt.SetSummary("round trip OK with " + s.key)
	return nil
}

// Undo does nothing.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
