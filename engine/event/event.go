// Package event defines what the engine reports while it works. The CLI turns
// events into human lines or, with --json, one JSON object per line. Events
// carry names, statuses, counts and durations; a Message may quote an error,
// so sinks write through a secret.Set.
package event

import (
	"sync"
	"time"

	"github.com/cutover/cutover/steps"
)

// Types of events.
const (
	RunStart       = "run.start"
	RunResume      = "run.resume"
	RunEnd         = "run.end"
	PlanStep       = "plan.step" // dry run: one step and its actions
	StepStart      = "step.start"
	StepLog        = "step.log"
	StepProgress   = "step.progress"
	StepRetry      = "step.retry"
	StepDone       = "step.done"
	StepSkip       = "step.skip"
	StepFail       = "step.fail"
	Window         = "window"
	RollbackStart  = "rollback.start"
	RollbackAction = "rollback.action" // Status: started, done, failed
	RollbackEnd    = "rollback.end"
	Notice         = "notice"
)

// Event is one report.
type Event struct {
	Time     time.Time       `json:"time"`
	Type     string          `json:"type"`
	Step     string          `json:"step,omitempty"`
	Kind     string          `json:"kind,omitempty"`
	Status   string          `json:"status,omitempty"`
	Phase    int             `json:"phase,omitempty"`
	Op       string          `json:"op,omitempty"`
	Elapsed  time.Duration   `json:"elapsed_ns,omitempty"`
	Message  string          `json:"message,omitempty"`
	Progress *steps.Progress `json:"progress,omitempty"`
	Actions  []steps.Action  `json:"actions,omitempty"`
	Attempt  int             `json:"attempt,omitempty"`
}

// Sink receives events. Implementations must be safe for concurrent use:
// long steps report progress from worker goroutines.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Recorder is a Sink that keeps every event, for tests.
type Recorder struct {
	mu     sync.Mutex
	Events []Event
}

// Emit records e.
func (r *Recorder) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Events = append(r.Events, e)
}

// Types returns the recorded event types in order.
func (r *Recorder) Types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.Events))
	for i, e := range r.Events {
		out[i] = e.Type
	}
	return out
}
