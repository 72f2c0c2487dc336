// Package engine runs a loaded plan: steps in order, a checkpoint after every
// state change, resume after a crash, the maintenance window, the point of no
// return, and the automatic three-phase rollback when a step fails.
//
// Run, Rollback and DryRun are the three entry points; each reports what it does
// as events and returns a Result whose Outcome maps to the CLI's exit code.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/termsafe"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

// Outcome is how a run or rollback ended.
type Outcome int

// Outcomes.
const (
	Completed      Outcome = iota // every step done (or, for Rollback, the rollback finished)
	Failed                        // a step failed with no automatic rollback, or the run was refused
	RolledBack                    // a step failed and the automatic rollback finished
	RollbackFailed                // a compensation failed; the checkpoint names it
	Stopped                       // the run needs a decision from the operator
)

func (o Outcome) String() string {
	return [...]string{"completed", "failed", "rolled back", "rollback failed", "stopped"}[o]
}

// Result is the end of Run or Rollback.
type Result struct {
	Outcome Outcome
	// Err is the cause of anything but Completed.
	Err error
	// Next is the command the operator should run next, if any.
	Next  string
	State *checkpoint.State
}

// Options configure a run.
type Options struct {
	Store  *checkpoint.Store
	Events event.Sink
	// Confirm answers approval prompts; nil refuses every approval.
	Confirm func(ctx context.Context, prompt string) (bool, error)
	// Resolve settles steps a crash left started: step ID -> "done" or "rerun".
	Resolve map[string]string
	// AcceptDataLoss allows a rollback after the point of no return.
	AcceptDataLoss bool
	// AcceptUnverified lets a run start although a step's preflight could
	// not verify something (steps.Action.Unverified: MinIO's default key at
	// AIStor Key Manager); without it the preflight refuses such a run.
	AcceptUnverified bool
	// Command is how the operator invoked cutover ("cutover"), for hints.
	Command string
	// Hint is what the commands hints print need besides the plan file.
	Hint HintArgs
	// Decisions are the operator's choices for files a rollback found
	// changed since their step (`cutover rollback --overwrite/--keep`).
	Decisions []Decision
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PreflightTimeout bounds the preflight of each step that sets no
	// timeout; 0 means DefaultPreflightTimeout.
	PreflightTimeout time.Duration
	// IgnoreWindow runs a plan whose window is shorter than its estimate
	// (EstimateWindow), and turns off the check before each step that
	// rolls back when the rest would overrun the window.
	IgnoreWindow bool
	// Rehearsal runs the plan as a rehearsal (see Rehearse): after the
	// point of no return, or the last step, it rolls back on purpose.
	Rehearsal bool
}

// Errors the engine returns (wrapped with detail).
var (
	ErrPlanChanged     = errors.New("the plan or its inputs changed since the checkpoint was written")
	ErrRollbackPending = errors.New("a rollback is in progress")
	ErrNeedsDecision   = errors.New("a step was interrupted and cannot be re-run safely")
	ErrWindow          = errors.New("the maintenance window would be exceeded")
	ErrPreflight       = errors.New("preflight failed")
	ErrStateWrite      = errors.New("the state directory cannot be written")
	ErrNoSpace         = errors.New("not enough free space in the state directory")
	ErrCommandRunning  = errors.New("a command of the interrupted run is still running")
)

// execution is the state of one Run or Rollback call.
type execution struct {
	plan  *plan.Plan
	opts  Options
	store *checkpoint.Store
	st    *checkpoint.State
	lock  checkpoint.LockInfo
	// durations are the recorded times of the previous run, for the window.
	durations checkpoint.Durations
	// writeErr is the first failed write to the state directory (see
	// writes.go); set, it stops the run and the state in memory is the record.
	writeErr error
	writeMu  sync.Mutex
	// measured are this call's times, written to durations.json once, at
	// its end (flush): a write per step would cost more than the step.
	measured checkpoint.Durations
	// win caches the window estimate's sums (window.go).
	win windowSums
	// conflict is the last compensation stopped on changed files, if any.
	conflict *steps.ConflictError
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func (o Options) command() string {
	if o.Command == "" {
		return "cutover"
	}
	return o.Command
}

func (e *execution) emit(ev event.Event) {
	ev = e.prepare(ev)
	e.display(ev)
	if rec, ok := e.auditRecord(ev); ok {
		_ = e.noteWrite(e.store.Audit(rec)) // noted: the run stops before its next step
	}
}

// prepare stamps ev's time and masks its message.
func (e *execution) prepare(ev event.Event) event.Event {
	if ev.Time.IsZero() {
		ev.Time = e.opts.now()
	}
	ev.Message = termsafe.String(e.plan.Secrets.Redact(ev.Message))
	return ev
}

func (e *execution) display(ev event.Event) {
	if e.opts.Events != nil {
		e.opts.Events.Emit(ev)
	}
}

// mark makes step id's record durable together with ev's audit line (both
// written, then synced in parallel: one wait for the disk) and returns ev
// ready to display; a failure is noted (writes.go) and returned.
func (e *execution) mark(id string, ev event.Event) (event.Event, error) {
	ev = e.prepare(ev)
	if rec, ok := e.auditRecord(ev); ok {
		_ = e.noteWrite(e.store.AuditWithNextSave(rec)) // noted: the run stops before its next step
	}
	return ev, e.saveStep(id)
}

// auditRecord is ev's audit line; ok is false for the events that record
// progress, not actions and results.
func (e *execution) auditRecord(ev event.Event) (rec checkpoint.AuditRecord, ok bool) {
	if e.store == nil || ev.Type == event.StepProgress || ev.Type == event.PlanStep {
		return rec, false
	}
	rec = checkpoint.AuditRecord{Time: ev.Time, Event: ev.Type, Step: ev.Step, Status: ev.Status,
		Message: ev.Message, User: e.lock.User}
	if e.st != nil {
		rec.RunID = e.st.RunID
	}
	if ev.Op != "" {
		rec.Fields = map[string]string{"op": ev.Op, "phase": fmt.Sprint(ev.Phase)}
	}
	if ev.Elapsed > 0 {
		if rec.Fields == nil {
			rec.Fields = map[string]string{}
		}
		rec.Fields["elapsed"] = ev.Elapsed.Round(time.Millisecond).String()
	}
	return rec, true
}

// save writes state.json; a failure is noted (see writes.go) and returned.
func (e *execution) save() error {
	return e.noteWrite(e.store.Save(e.st))
}

// saveStep makes step id's record durable: one appended line, not a rewrite
// of state.json (checkpoint.Store.SaveStep); a failure is noted and returned.
func (e *execution) saveStep(id string) error {
	return e.noteWrite(e.store.SaveStep(e.st, id))
}

// measure records how long key took, for the next run's window estimates.
func (e *execution) measure(key string, took time.Duration) {
	if e.measured == nil {
		e.measured = checkpoint.Durations{}
	}
	e.measured[key] = took
}

// flush makes the audit lines waiting for the next save durable and writes
// the measured durations, at the end of Run or Rollback; a failure is noted
// for finish.
func (e *execution) flush() {
	_ = e.noteWrite(e.store.Flush())
	_ = e.noteWrite(e.store.RecordDurations(e.measured))
}

// cmd formats a command to paste: cutover VERB FLAGS... PLAN, then --state
// when not the default and, for commands that evaluate the plan's inputs,
// the inputs, then note as a shell comment (see HintArgs.Line).
func (e *execution) cmd(verb, note string, flags ...string) string {
	return e.opts.Hint.Line(e.opts.command(), verb, e.planArg(), note, flags...)
}
