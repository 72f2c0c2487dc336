// Package plantest runs plans in-process for tests of step types: write a
// plan into a directory, load it with every step type and backend
// registered, and run, dry-run or roll it back with the real engine and a
// real state directory.
package plantest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"

	_ "github.com/cutover/cutover/providers/all" // every backend
	_ "github.com/cutover/cutover/steps/all"     // every step type
)

// Harness is a plan in a directory with its state store.
type Harness struct {
	T      testing.TB
	Dir    string
	Plan   *plan.Plan
	Store  *checkpoint.Store
	Events *event.Recorder
}

// Load writes src as plan.hcl in dir and loads it with opts; load errors
// fail the test.
func Load(t testing.TB, dir, src string, opts plan.Options) *Harness {
	t.Helper()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	p, diags := plan.Load(path, opts)
	if diags.HasErrors() {
		t.Fatalf("plan does not load: %s", diags.Error())
	}
	store, err := checkpoint.Open(filepath.Join(dir, ".cutover", p.Name))
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{T: t, Dir: dir, Plan: p, Store: store, Events: &event.Recorder{}}
}

func (h *Harness) options() engine.Options {
	return engine.Options{Store: h.Store, Events: h.Events,
		Confirm: func(context.Context, string) (bool, error) { return true, nil }}
}

// Run runs the plan.
func (h *Harness) Run(ctx context.Context) engine.Result { return engine.Run(ctx, h.Plan, h.options()) }

// Rollback rolls the run back by hand.
func (h *Harness) Rollback(ctx context.Context, acceptDataLoss bool) engine.Result {
	o := h.options()
	o.AcceptDataLoss = acceptDataLoss
	return engine.Rollback(ctx, h.Plan, o)
}

// DryRun plans every step.
func (h *Harness) DryRun(ctx context.Context) ([]engine.StepPlan, error) {
	return engine.DryRun(ctx, h.Plan, engine.Options{Events: h.Events})
}

// MustComplete runs the plan and fails the test unless it completes.
func (h *Harness) MustComplete(ctx context.Context) *checkpoint.State {
	h.T.Helper()
	r := h.Run(ctx)
	if r.Outcome != engine.Completed {
		h.T.Fatalf("run %s: %v", r.Outcome, r.Err)
	}
	return r.State
}

// Output returns a step's recorded output.
func Output(st *checkpoint.State, step, key string) string {
	if rec := st.Step(step); rec != nil {
		return rec.Outputs[key]
	}
	return ""
}

// OpenStore opens a key store the plan declares ("kms.dst").
func OpenStore(t testing.TB, h *Harness, ref string) (providers.KeyStore, error) {
	t.Helper()
	cfg, ok := h.Plan.Systems[ref].(providers.KeyStoreConfig)
	if !ok {
		t.Fatalf("the plan declares no key store %s", ref)
	}
	return cfg.Open(context.Background())
}
