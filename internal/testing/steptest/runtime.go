// Package steptest helps unit-test step types without the engine.
package steptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/steps"
)

// Runtime is a steps.Runtime for unit tests of step types: it keeps undo
// data in memory and records what the step reports. Blobs and journals are
// refused (steps that need them are tested through the real engine, see
// internal/testing/plantest). Approvals are refused. Read its records only after the
// step returned.
type Runtime struct {
	mu sync.Mutex
	id string
	// Outputs, Summary, Undo, Logs and Reports are what the step recorded.
	Outputs map[string]string
	Summary string
	Undo    []byte
	Logs    []string
	Reports []steps.Progress
	// Decisions answer FileDecision (absolute path -> choice).
	Decisions map[string]steps.FileChoice
	out       bytes.Buffer
	secrets   secret.Set
}

// NewRuntime returns a Runtime for a step called id ("drain.test").
func NewRuntime(id string) *Runtime { return &Runtime{id: id, Outputs: map[string]string{}} }

// StepID implements steps.Runtime.
func (r *Runtime) StepID() string { return r.id }

// RollingBack implements steps.Runtime.
func (r *Runtime) RollingBack() bool { return false }

// SaveUndo implements steps.Runtime.
func (r *Runtime) SaveUndo(v any) error {
	b, err := json.Marshal(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Undo = b
	return err
}

// LoadUndo implements steps.Runtime.
func (r *Runtime) LoadUndo(v any) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Undo == nil {
		return false, nil
	}
	return true, json.Unmarshal(r.Undo, v)
}

// SaveBlob implements steps.Runtime.
func (r *Runtime) SaveBlob(string, []byte) error { return errors.New("no blobs") }

// LoadBlob implements steps.Runtime.
func (r *Runtime) LoadBlob(string) ([]byte, bool, error) {
	return nil, false, nil
}

// OpenJournal implements steps.Runtime.
func (r *Runtime) OpenJournal(string) (*checkpoint.Journal, error) {
	return nil, errors.New("no journals")
}

// ReadJournal implements steps.Runtime.
func (r *Runtime) ReadJournal(string, func([]byte) error) error { return nil }

// SetOutput implements steps.Runtime.
func (r *Runtime) SetOutput(k, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Outputs[k] = v
}

// SetSummary implements steps.Runtime.
func (r *Runtime) SetSummary(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Summary = s
}

// Progress implements steps.Runtime.
func (r *Runtime) Progress(p steps.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Reports = append(r.Reports, p)
}

// Output implements steps.Runtime.
func (r *Runtime) Output() io.Writer { return lockedWriter{r} }

// Logf implements steps.Runtime.
func (r *Runtime) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Logs = append(r.Logs, fmt.Sprintf(format, args...))
}

// Secrets implements steps.Runtime.
func (r *Runtime) Secrets() *secret.Set { return &r.secrets }

// Confirm implements steps.Runtime.
func (r *Runtime) Confirm(context.Context, string) (bool, error) {
	return false, steps.ErrNotConfirmed
}

// Text returns what the step's commands wrote to Output().
func (r *Runtime) Text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

type lockedWriter struct{ r *Runtime }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.out.Write(p)
}

// FileDecision implements steps.Runtime: the choice set in Decisions.
func (r *Runtime) FileDecision(path string) steps.FileChoice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Decisions[path]
}
