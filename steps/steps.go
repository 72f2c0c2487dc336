// Package steps defines what a runbook step is (the Step interface), how the
// engine serves it (Runtime), and the registry through which the plan language
// decodes `step "<type>" "<name>"` blocks. Each step type lives in its own
// package under steps/ and registers itself in init; steps/all imports them all.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/providers"
)

// Step is one runbook step.
//
// Plan is read-only: it preflights the systems the step touches and returns the
// exact actions Apply would take; it never changes anything. Apply performs the
// step; it must record its compensation data through the Runtime (SaveUndo,
// SaveBlob) before each side effect, so a crash between the record and the
// effect leaves enough to undo. Undo compensates from that data; it must be
// idempotent (a rollback interrupted mid-way runs it again) and must succeed as
// a no-op when Apply never acted.
type Step interface {
	Plan(ctx context.Context, rt Runtime) ([]Action, error)
	Apply(ctx context.Context, rt Runtime) error
	Undo(ctx context.Context, rt Runtime) error
}

// Action is one thing a step would do, for `cutover plan`. Details are extra
// lines (an env diff); every value in them is already masked where sensitive.
type Action struct {
	Summary string   `json:"summary"`
	Details []string `json:"details,omitempty"`
	// Warning marks an action the operator should read twice.
	Warning bool `json:"warning,omitempty"`
	// Unverified marks a check cutover could not make (AIStor Key Manager
	// cannot be reached from here): `plan` shows it, and `run` refuses it at
	// preflight unless the operator accepts it (--accept-unverified-kms).
	Unverified bool `json:"unverified,omitempty"`
}

// Kind says how a step takes part in the three-phase rollback.
type Kind int

// Step kinds.
const (
	// KindChange steps change state (env files, keys, the JWT list): phase 1
	// undoes them, newest first.
	KindChange Kind = iota
	// KindRedo steps are restarts and checks: phase 2 runs them again, oldest
	// first, so the service comes back on the old configuration and is proven.
	KindRedo
	// KindDrain steps stop traffic: phase 3 releases them, last.
	KindDrain
	// KindNone steps need no compensation (backups, approvals, resumes).
	KindNone
)

func (k Kind) String() string {
	switch k {
	case KindChange:
		return "change"
	case KindRedo:
		return "redo"
	case KindDrain:
		return "drain"
	default:
		return "none"
	}
}

// Type describes a step type and decodes its blocks.
type Type struct {
	Name string
	// Doc says in one sentence what the step does, for docs/reference.md.
	Doc string
	// Config is a pointer to the struct the type's Decode passes to
	// hcldecode.DecodeBody: its tags (hcl, doc, default, type, sensitive)
	// are the type's attributes in docs/reference.md.
	Config any
	Kind   Kind
	// Idempotent steps may be re-run after a crash left them started.
	Idempotent bool
	// Downtime steps start the maintenance window (drains, restarts).
	Downtime bool
	// Restarts steps restart the service. A restart can end a drain that
	// lives in the service's memory, so after one (in a run, and when it is
	// redone in phase 2 of a rollback) the engine applies again every drain
	// still in force. It is declared by the step type, never inferred from
	// Kind or Downtime.
	Restarts bool
	// UndoFromRecord steps undo from what they recorded alone (paths,
	// digests, saved bytes), not from their configuration: a rollback needs
	// none of their inputs.
	UndoFromRecord bool
	// Hosts says whether and how the step type runs on the plan's hosts
	// (`on = ...`).
	Hosts HostMode
	// Decode builds a step from its block body (common attributes such as
	// timeout and when are removed before). It reports every problem as a
	// diagnostic with a source range.
	Decode func(body hcl.Body, dc *hcldecode.Context) (Step, hcl.Diagnostics)
}

// HostMode says how a step type takes part in `on = host.x | group.y`.
type HostMode int

// Host modes.
const (
	// HostsNone: the step runs on the operator's machine only; `on` is an
	// error.
	HostsNone HostMode = iota
	// HostsInDecode: the type's decoder reaches the hosts itself
	// (hcldecode.Context.On), as env does to edit every node's file as one
	// set.
	HostsInDecode
	// HostsEach: the plan decodes the step once per host (with `node`
	// bound to it) and runs the instances per node (package onhosts), all
	// at once or in batches.
	HostsEach
)

var (
	regMu    sync.RWMutex
	registry = map[string]Type{}
)

// Register adds a step type; it panics on a duplicate name (a programming error).
func Register(t Type) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[t.Name]; dup {
		panic("steps: duplicate step type " + t.Name)
	}
	registry[t.Name] = t
}

// Lookup returns the step type called name.
func Lookup(name string) (Type, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	t, ok := registry[name]
	return t, ok
}

// Names lists the registered step types, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Progress reports how far a long step is.
type Progress struct {
	Done  int64  `json:"done"`
	Total int64  `json:"total,omitempty"` // 0 when unknown
	Unit  string `json:"unit,omitempty"`  // "keys", "objects"
}

// Runtime is what the engine gives a running step.
type Runtime interface {
	// StepID is "<type>.<name>".
	StepID() string
	// RollingBack is true when the step runs as a compensation or a phase-2 redo.
	RollingBack() bool
	// SaveUndo records v (JSON, never a secret) as the step's compensation
	// data, durably, replacing what was there.
	SaveUndo(v any) error
	// LoadUndo reads the data SaveUndo recorded into v; false if none.
	LoadUndo(v any) (bool, error)
	// SaveBlob durably stores bytes a compensation needs that may be secret
	// (kept 0600, never printed). The first save of a name wins.
	SaveBlob(name string, data []byte) error
	// LoadBlob returns a blob saved by SaveBlob.
	LoadBlob(name string) ([]byte, bool, error)
	// OpenJournal opens the step's append-only journal called name.
	OpenJournal(name string) (*checkpoint.Journal, error)
	// ReadJournal replays the journal called name.
	ReadJournal(name string, fn func(line []byte) error) error
	// SetOutput records an output value (e.g. "count") for status and later steps.
	SetOutput(key, value string)
	// SetSummary records a one-line account of what the step did.
	SetSummary(text string)
	// Progress reports progress of a long step.
	Progress(p Progress)
	// Output is where commands the step runs write their stdout and stderr:
	// the step's log file in the state directory, secrets masked.
	Output() io.Writer
	// Logf reports a line of detail; secrets are masked on the way out.
	Logf(format string, args ...any)
	// Secrets is the set of values masked in every output.
	Secrets() *secret.Set
	// Confirm asks the operator a yes/no question (or answers from --yes).
	Confirm(ctx context.Context, prompt string) (bool, error)
	// FileDecision is the operator's choice for a file (absolute path) a
	// compensation found changed since the step (see ConflictError); ""
	// when none was given, or outside a rollback.
	FileDecision(path string) FileChoice
}

// Error is a step's failure as the engine reports it.
type Error struct {
	Step string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrNotConfirmed means an approval was refused or could not be asked.
var ErrNotConfirmed = errors.New("not approved")

// Retry runs fn until it succeeds, ctx ends, or the deadline passes, sleeping
// interval between attempts. It returns the last error of an attempt that ran
// to its end, wrapped with the number of attempts: an attempt that ctx cut
// short says only that time ran out, so the error of the one before it (a
// missing key, a 503) is the one reported, followed by ctx's error.
func Retry(ctx context.Context, deadline time.Time, interval time.Duration, fn func(context.Context) error) error {
	attempts := 0
	var last error
	for {
		attempts++
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("after %d attempts: %w (%v)", attempts, last, ctx.Err())
		}
		if time.Now().Add(interval).After(deadline) {
			return fmt.Errorf("after %d attempts: %w", attempts, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %d attempts: %w (%v)", attempts, last, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// RollbackCommander is implemented by steps that run their `rollback {
// command }` themselves (on each host they ran on) in their Undo, instead
// of the engine running it once on the operator's machine.
type RollbackCommander interface {
	RunsRollbackCommand() bool
}

// Asker is implemented by steps that may ask the operator through
// Runtime.Confirm. When Asks is true and the run has no way to ask (no
// terminal and no --yes), the engine refuses the run at preflight, before
// anything changes, rather than fail the step half-way through the window.
type Asker interface {
	Asks() bool
}

// Releaser is implemented by drain steps: Release lets traffic back in. The
// `resume` step calls it before the end of a plan; the rollback calls it
// (through Undo) in phase 3. It must be idempotent.
type Releaser interface {
	Release(ctx context.Context, rt Runtime) error
	// Describe says in a few words what is released ("POST http://.../resume").
	DescribeRelease() string
}

// LossReporter is implemented by steps that can name the data a rollback
// past the point of no return would make unreadable (work written under the
// new KMS since traffic resumed). `cutover rollback` lists it when it refuses
// without --accept-data-loss.
type LossReporter interface {
	DataAtRisk(ctx context.Context) ([]string, error)
}

// Cleaner is implemented by steps whose rollback has work that is not needed
// to restore the service, such as deleting the keys a migration created at
// the target. It runs in a fourth phase, after traffic is back, so an
// unreachable target cannot keep the service down; a failure there stops the
// rollback like any other and `cutover rollback` retries it. It must be
// idempotent.
type Cleaner interface {
	Cleanup(ctx context.Context, rt Runtime) error
}

// KeyWriter is implemented by steps that copy keys into a store
// (migrate_keys). Checks made before the run (kms_check's `after`, the env
// step's check of MinIO's default key) count a key such a step will write.
type KeyWriter interface {
	// WillWrite returns the key the step will write into target for ref
	// (the name a service uses there: an AWS alias maps to its name, and
	// a write into the keystore behind a KES counts for that KES; see
	// providers.WrittenAs), read from the step's source now. ok is false
	// when the step will not write it.
	WillWrite(ctx context.Context, target providers.KeyStoreConfig, ref string) (k providers.Key, ok bool, err error)
}
