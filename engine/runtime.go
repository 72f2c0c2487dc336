package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/faultpoint"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

// runtime is the engine's steps.Runtime for one step.
type runtime struct {
	e           *execution
	step        *plan.Step
	rollingBack bool
	dryRun      bool

	// action is the rollback action this runtime serves, if any; SetSummary
	// then describes the compensation, not the step.
	action *checkpoint.RollbackAction

	mu           sync.Mutex
	lastProgress time.Time
}

var errDryRun = fmt.Errorf("not allowed in a dry run")

func (e *execution) runtime(s *plan.Step, rollingBack bool) *runtime {
	return &runtime{e: e, step: s, rollingBack: rollingBack}
}

func (r *runtime) StepID() string    { return r.step.ID }
func (r *runtime) RollingBack() bool { return r.rollingBack }

func (r *runtime) record() *checkpoint.StepState { return r.e.st.Step(r.step.ID) }

func (r *runtime) SaveUndo(v any) error {
	if r.dryRun {
		return errDryRun
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record().Undo = data
	if err := r.e.save(); err != nil {
		return err
	}
	// The undo data is durable and the step has not acted on it yet.
	faultpoint.Hit("before-effect:" + r.step.ID)
	return nil
}

func (r *runtime) LoadUndo(v any) (bool, error) {
	if r.dryRun || r.e.st == nil {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	data := r.record().Undo
	if len(data) == 0 {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// SaveBlob stores data as the step's undo blob name and records its digest
// in state.json before the step acts. The first recorded blob wins: a re-run
// step must not replace the original with what it already changed. A blob
// written without its record (a crash in between) is replaced.
func (r *runtime) SaveBlob(name string, data []byte) error {
	if r.dryRun {
		return errDryRun
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.record()
	if _, ok := rec.Blobs[name]; ok {
		return nil
	}
	digest, err := r.e.store.WriteUndoBlob(r.step.ID, name, data)
	if err != nil {
		return r.e.noteWrite(err)
	}
	if rec.Blobs == nil {
		rec.Blobs = map[string]string{}
	}
	rec.Blobs[name] = digest
	return r.e.save()
}

// LoadBlob returns the step's undo blob name, checked against its recorded
// digest; ok is false when none is recorded.
func (r *runtime) LoadBlob(name string) ([]byte, bool, error) {
	if r.dryRun || r.e.st == nil {
		return nil, false, nil
	}
	r.mu.Lock()
	digest, ok := r.record().Blobs[name]
	r.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	data, err := r.e.store.ReadUndoBlob(r.step.ID, name, digest)
	return data, err == nil, err
}

func (r *runtime) OpenJournal(name string) (*checkpoint.Journal, error) {
	if r.dryRun {
		return nil, errDryRun
	}
	return r.e.store.OpenJournal(r.step.ID, name)
}

func (r *runtime) ReadJournal(name string, fn func(line []byte) error) error {
	if r.dryRun {
		return nil
	}
	return r.e.store.ReadJournal(r.step.ID, name, fn)
}

func (r *runtime) SetOutput(key, value string) {
	if r.dryRun {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.record()
	if rec.Outputs == nil {
		rec.Outputs = map[string]string{}
	}
	rec.Outputs[key] = r.e.plan.Secrets.Redact(value)
}

func (r *runtime) SetSummary(text string) {
	if r.dryRun {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.action != nil {
		r.action.Summary = r.e.plan.Secrets.Redact(text)
		return
	}
	r.record().Summary = r.e.plan.Secrets.Redact(text)
}

// progressEvery throttles progress events.
const progressEvery = 250 * time.Millisecond

func (r *runtime) Progress(p steps.Progress) {
	r.mu.Lock()
	now := time.Now()
	final := p.Total > 0 && p.Done >= p.Total
	if !final && now.Sub(r.lastProgress) < progressEvery {
		r.mu.Unlock()
		return
	}
	r.lastProgress = now
	r.mu.Unlock()
	r.e.emit(event.Event{Type: event.StepProgress, Step: r.step.ID, Progress: &p})
}

func (r *runtime) Output() io.Writer {
	if r.dryRun || r.e.store == nil {
		return io.Discard
	}
	return r.e.plan.Secrets.Writer(&stepLog{path: r.e.store.LogPath(r.step.ID), note: r.e.noteWrite})
}

// stepLog appends to a step's log file, opening it per write so no file
// handle outlives the step. A failed write is noted (the run stops before
// its next step) and the output dropped, so that a full state directory
// never fails the command, least of all a compensation.
type stepLog struct {
	path string
	note func(error) error
}

func (l *stepLog) Write(p []byte) (int, error) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.Write(p)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = l.note(fmt.Errorf("step log %s: %w", l.path, err)) // noted: the run stops before its next step
	}
	return len(p), nil
}

var _ command.Tracker = (*runtime)(nil)

// Started implements command.Tracker: the command's process group is in
// the checkpoint, durably, before anything waits for the command.
func (r *runtime) Started(p command.Process) error {
	if r.dryRun || r.e.st == nil || r.e.store == nil {
		return nil
	}
	host, _ := os.Hostname()
	proc := &checkpoint.Process{PGID: p.PGID, Command: r.e.plan.Secrets.Redact(p.Command), Host: host, StartedAt: r.e.opts.now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setProcess(proc)
	if r.action != nil || r.rollingBack {
		// a rollback goes on from the state in memory; finish reports the write
		_ = r.e.noteWrite(r.e.store.Save(r.e.st))
		return nil
	}
	err := r.e.saveStep(r.step.ID) // one appended line
	if errors.Is(err, checkpoint.ErrStoreUnavailable) {
		// a shared store that went away: the local copy holds the record, and
		// the noted failure stops the run before its next step
		return nil
	}
	if err != nil {
		return fmt.Errorf("record its process group in the checkpoint: %w", err)
	}
	return nil
}

// Ended implements command.Tracker: the record goes with the next save.
func (r *runtime) Ended(command.Process) {
	if r.dryRun || r.e.st == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setProcess(nil)
}

func (r *runtime) setProcess(p *checkpoint.Process) {
	if r.action != nil {
		r.action.Process = p
		return
	}
	r.record().Process = p
}

func (r *runtime) Logf(format string, args ...any) {
	r.e.emit(event.Event{Type: event.StepLog, Step: r.step.ID, Message: fmt.Sprintf(format, args...)})
}

func (r *runtime) Secrets() *secret.Set { return r.e.plan.Secrets }

func (r *runtime) Confirm(ctx context.Context, prompt string) (bool, error) {
	if r.e.opts.Confirm == nil {
		return false, fmt.Errorf("%w: no way to ask (use --yes to approve)", steps.ErrNotConfirmed)
	}
	return r.e.opts.Confirm(ctx, prompt)
}

// FileDecision returns the operator's choice recorded on the rollback action
// this runtime serves.
func (r *runtime) FileDecision(path string) steps.FileChoice {
	if r.action == nil {
		return ""
	}
	return steps.FileChoice(r.action.Decisions[path])
}
