// Package verifykeys is the `verify_keys` step: prove that a target key store
// holds every key of a source. It compares the counts for the pattern, then
// checks each key with the strongest proof the target allows: byte comparison
// where material can be read; otherwise the store's proof that it holds the
// same material (KES: it decrypts a ciphertext sealed under the source's
// material); an encrypt/decrypt round trip only where neither exists. It
// reports every key that fails, not
// only the first. It changes nothing, so it has nothing to compensate.
package verifykeys

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "verify_keys", Doc: "Proves that a target key store holds every key of a source: compares the counts, then checks each key with the strongest proof the target allows (bytes, a sealed ciphertext, or a round trip). Changes nothing.", Config: &Config{}, Kind: steps.KindNone, Idempotent: true, Decode: decode})
}

// Config is the body of a verify_keys step.
type Config struct {
	From        hcl.Expression `hcl:"from" type:"reference to kms.<name>" doc:"The key store whose keys must all be at the target."`
	To          hcl.Expression `hcl:"to" type:"reference to kms.<name>" doc:"The key store checked."`
	Pattern     string         `hcl:"pattern,optional" default:"\"*\"" doc:"Which key names to check: a glob (* and ? wildcards)."`
	Concurrency int            `hcl:"concurrency,optional" default:"16" doc:"Keys checked at once."`
}

// Step verifies keys.
type Step struct {
	from, to    providers.KeyStoreConfig
	pattern     string
	concurrency int
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	s := &Step{pattern: c.Pattern, concurrency: c.Concurrency}
	var d hcl.Diagnostics
	s.from, d = keyops.ResolveStore(dc, c.From, "from")
	diags = append(diags, d...)
	s.to, d = keyops.ResolveStore(dc, c.To, "to")
	diags = append(diags, d...)
	if s.pattern == "" {
		s.pattern = "*"
	}
	if s.concurrency == 0 {
		s.concurrency = keyops.DefaultConcurrency
	}
	return s, diags
}

func (s *Step) open(ctx context.Context) (providers.KeyStore, providers.KeyStore, error) {
	return keyops.OpenPair(ctx, s.from, s.to)
}

// Plan counts both sides.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	src, dst, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	n, err := keyops.Count(ctx, src, s.pattern)
	if err != nil {
		return nil, err
	}
	now := "now"
	if m, err := keyops.Count(ctx, dst, s.pattern); err != nil {
		// KES over Vault cannot list an empty prefix: normal before a migration.
		now = fmt.Sprintf("could not count the target now: %v", err)
	} else {
		now = fmt.Sprintf("now %d there", m)
	}
	return []steps.Action{{Summary: fmt.Sprintf("verify %d keys matching %q of %s against %s (%s), %d at a time",
		n, s.pattern, s.from.Describe(), s.to.Describe(), now, s.concurrency)}}, nil
}

// Apply verifies every key and the counts.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	src, dst, err := s.open(ctx)
	if err != nil {
		return err
	}
	total, err := keyops.Count(ctx, src, s.pattern)
	if err != nil {
		return err
	}
	var done atomic.Int64
	err = keyops.ForEach(ctx, src, s.pattern, s.concurrency, true, func(ctx context.Context, name string) error {
		defer rt.Progress(steps.Progress{Done: done.Add(1), Total: total, Unit: "keys"})
		return verifyOne(ctx, src, dst, name)
	})
	if err != nil {
		return err
	}
	return s.checkCounts(ctx, rt, dst, total)
}

func verifyOne(ctx context.Context, src, dst providers.KeyStore, name string) error {
	k, err := src.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("read from source: %w", err)
	}
	return keyops.Verify(ctx, dst, name, k)
}

func (s *Step) checkCounts(ctx context.Context, rt steps.Runtime, dst providers.KeyStore, total int64) error {
	m, err := keyops.Count(ctx, dst, s.pattern)
	if err != nil {
		return err
	}
	if m != total {
		return fmt.Errorf("counts differ for %q: %d keys at the source, %d at the target (every source key is there; the target has %d more)", s.pattern, total, m, m-total)
	}
	rt.SetOutput("count", fmt.Sprint(total))
	rt.SetSummary(fmt.Sprintf("%d keys verified; counts equal (%d = %d)", total, total, m))
	return nil
}

// Undo does nothing: verification changes nothing.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
