// Package checkpoint is cutover's state store: one directory per plan that holds
// state.json (where a run is), undo data, per-step journals, the append-only
// audit log and the lock.
//
// Every write is atomic (temp file, fsync, rename, fsync dir) and mode 0600, so
// a crash at any instant leaves the previous or the next state, never a torn
// one. Nothing in state.json, journals or the audit log may hold a secret: the
// callers record names, counts and digests. Undo data that must hold secret
// bytes (an env file's old content) goes through WriteUndoBlob into undo/, which
// is never printed.
//
// What is read back is checked before it is used: state.json carries the
// digest of its own content, every undo blob's digest is recorded in
// state.json, and a journal line that is not JSON is accepted only as the
// torn last line of a crash. A file failing its check is a *CorruptError
// (ErrCorrupt). Names that become file names (plan, step, blob and journal
// names) must follow NameRule, so nothing is written outside the directory.
package checkpoint

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of state.json this package writes. Version 2
// added the file's digest and the undo blobs' digests.
const SchemaVersion = 2

// Phase is where a run stands as a whole.
type Phase string

// Phases of a run.
const (
	PhaseRunning        Phase = "running"         // steps are being applied (or a crash left it so)
	PhaseStopped        Phase = "stopped"         // stopped with a choice for the operator (see State.Error)
	PhaseFailed         Phase = "failed"          // a step failed and no automatic rollback was allowed
	PhaseRollingBack    Phase = "rolling_back"    // the rollback is in progress (or a crash left it so)
	PhaseRollbackFailed Phase = "rollback_failed" // a compensation failed; `cutover rollback` continues
	PhaseRolledBack     Phase = "rolled_back"     // every compensation finished
	PhaseCompleted      Phase = "completed"       // every step is done
)

// Status is the state of one step.
type Status string

// Step statuses.
const (
	StatusPending Status = "pending"
	StatusStarted Status = "started" // marked before the step acts; left so by a crash
	StatusDone    Status = "done"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped" // its `when` condition was false
)

// State is the content of state.json.
type State struct {
	Version int `json:"version"`
	// Serial grows with every write of state.json to a shared store (see
	// Remote): two writes of equal content must differ for the store's
	// compare-and-swap on the ETag. 0 (omitted) for a local directory.
	Serial   int64  `json:"serial,omitempty"`
	Plan     string `json:"plan"`
	PlanFile string `json:"plan_file"`
	PlanHash string `json:"plan_hash"`
	// InputsMAC is an HMAC-SHA256 of the variable values under the state
	// directory's inputs key (Store.InputsKey): a resume with other values
	// is refused, and without the key it reveals nothing about them.
	InputsMAC string    `json:"inputs_mac"`
	RunID     string    `json:"run_id"`
	Phase     Phase     `json:"phase"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// WindowStart is when the first downtime step started; the window budget
	// counts from it.
	WindowStart *time.Time `json:"window_start,omitempty"`
	// PastPointOfNoReturn is set once the step named point_of_no_return is done.
	PastPointOfNoReturn bool        `json:"past_point_of_no_return"`
	Steps               []StepState `json:"steps"`
	Rollback            *Rollback   `json:"rollback,omitempty"`
	// Inputs are the run's non-sensitive inputs as given, for the commands
	// `cutover status` prints.
	Inputs *Inputs `json:"inputs,omitempty"`
	// Error says why the run stopped, failed or rolled back.
	Error string `json:"error,omitempty"`
	// Rehearsal marks a run of `cutover rehearse`: rolled back on purpose
	// once it reached the point of no return (or its last step).
	Rehearsal bool `json:"rehearsal,omitempty"`

	idx map[string]int // step ID -> index in Steps, rebuilt when stale
}

// StepState is one step's record.
type StepState struct {
	ID       string `json:"id"` // "<type>.<name>"
	Status   Status `json:"status"`
	Attempts int    `json:"attempts,omitempty"`
	// Retries counts the retries of the step's last attempt (its
	// `retries`), recorded with the step's next mark.
	Retries    int        `json:"retries,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Undo is the step's compensation data (names, digests, paths), recorded
	// before its side effect. Never a secret.
	Undo json.RawMessage `json:"undo,omitempty"`
	// Blobs are the digests of the step's undo blobs by name (see
	// Store.WriteUndoBlob): a blob is read only if it matches.
	Blobs map[string]string `json:"blobs,omitempty"`
	// Outputs are values later steps and `cutover status` can read.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Summary is a one-line account of what the step did.
	Summary string `json:"summary,omitempty"`
	// Process is the command the step is running, recorded as it starts.
	Process *Process `json:"process,omitempty"`
}

// Process is a command a step or a compensation started and had not seen
// end when the checkpoint was written. Before anything runs again, a resume
// checks that no process of its group is left on this host.
type Process struct {
	PGID      int       `json:"pgid"`    // its process group: the pid of the command cutover started
	Command   string    `json:"command"` // its command line, secrets masked
	Host      string    `json:"host"`
	StartedAt time.Time `json:"started_at"`
}

// Rollback records a rollback's actions in the order they run, so that an
// interrupted or failed rollback continues exactly where it stopped.
type Rollback struct {
	Reason     string           `json:"reason"`
	Manual     bool             `json:"manual"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	Actions    []RollbackAction `json:"actions"`
}

// RollbackOp is what a rollback action does to its step.
type RollbackOp string

// Rollback operations, one per phase.
const (
	OpUndo    RollbackOp = "undo"    // phase 1: undo a change, newest first
	OpRedo    RollbackOp = "redo"    // phase 2: re-run a restart or check, oldest first
	OpRelease RollbackOp = "release" // phase 3: release a drain
	OpCleanup RollbackOp = "cleanup" // phase 4: work not needed to restore the service
)

// RollbackAction is one compensation.
type RollbackAction struct {
	Phase    int        `json:"phase"`
	Op       RollbackOp `json:"op"`
	Step     string     `json:"step"`
	Status   Status     `json:"status"` // pending, started, done, failed
	Attempts int        `json:"attempts,omitempty"`
	// Retries counts the retries of a re-run step (phase 2).
	Retries    int        `json:"retries,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Summary is the compensation's one-line account ("2 files restored").
	Summary string `json:"summary,omitempty"`
	// Conflicts are the files (absolute paths) this compensation did not
	// restore because they changed since the step wrote them.
	Conflicts []string `json:"conflicts,omitempty"`
	// Decisions are the operator's choices for those files (path ->
	// "overwrite" or "keep"), from `cutover rollback --overwrite/--keep`.
	Decisions map[string]string `json:"decisions,omitempty"`
	// Process is the command the compensation is running (see StepState).
	Process *Process `json:"process,omitempty"`
}

// Step returns the record of the step with id, or nil. It takes constant
// time: the engine looks steps up on every mark.
func (s *State) Step(id string) *StepState {
	if i := s.index(id); i >= 0 {
		return &s.Steps[i]
	}
	return nil
}

// index is the position of step id in Steps, or -1.
func (s *State) index(id string) int {
	if i, ok := s.idx[id]; ok && i < len(s.Steps) && s.Steps[i].ID == id {
		return i
	}
	if len(s.idx) == len(s.Steps) && s.idx != nil {
		if _, ok := s.idx[id]; !ok {
			return -1 // the index is current and id is not in it
		}
	}
	s.idx = make(map[string]int, len(s.Steps))
	for i := range s.Steps {
		s.idx[s.Steps[i].ID] = i
	}
	if i, ok := s.idx[id]; ok {
		return i
	}
	return -1
}

// NextRollbackAction returns the first action of the rollback that is not
// done, or nil when the rollback is complete.
func (r *Rollback) NextRollbackAction() *RollbackAction {
	for i := range r.Actions {
		if r.Actions[i].Status != StatusDone {
			return &r.Actions[i]
		}
	}
	return nil
}

// Inputs are how a run was given its inputs, as far as a command printed
// for the operator may repeat them: var files by absolute path, -var values
// of non-sensitive variables, and only the names of sensitive ones.
type Inputs struct {
	Args      []string `json:"args,omitempty"` // "-var-file", PATH, "-var", "NAME=VALUE", ...
	Sensitive []string `json:"sensitive,omitempty"`
}
