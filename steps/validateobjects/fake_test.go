package validateobjects

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

// fakeRuntime is a steps.Runtime that records what a step reports.
type fakeRuntime struct {
	mu       sync.Mutex
	outputs  map[string]string
	summary  string
	undo     []byte
	logs     []string
	progress []steps.Progress
	out      bytes.Buffer
	secrets  secret.Set
}

func newRuntime() *fakeRuntime { return &fakeRuntime{outputs: map[string]string{}} }

func (r *fakeRuntime) StepID() string    { return "validate_objects.test" }
func (r *fakeRuntime) RollingBack() bool { return false }
func (r *fakeRuntime) SaveUndo(v any) error {
	b, err := json.Marshal(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.undo = b
	return err
}
func (r *fakeRuntime) LoadUndo(v any) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.undo == nil {
		return false, nil
	}
	return true, json.Unmarshal(r.undo, v)
}
func (r *fakeRuntime) SaveBlob(string, []byte) error { return errors.New("no blobs") }
func (r *fakeRuntime) LoadBlob(string) ([]byte, bool, error) {
	return nil, false, nil
}
func (r *fakeRuntime) OpenJournal(string) (*checkpoint.Journal, error) {
	return nil, errors.New("no journals")
}
func (r *fakeRuntime) ReadJournal(string, func([]byte) error) error { return nil }
func (r *fakeRuntime) SetOutput(k, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outputs[k] = v
}
func (r *fakeRuntime) SetSummary(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.summary = s
}
func (r *fakeRuntime) Progress(p steps.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
}
func (r *fakeRuntime) Output() io.Writer { return lockedWriter{r} }
func (r *fakeRuntime) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *fakeRuntime) Secrets() *secret.Set { return &r.secrets }
func (r *fakeRuntime) Confirm(context.Context, string) (bool, error) {
	return false, steps.ErrNotConfirmed
}

// output returns what the step wrote to its log.
func (r *fakeRuntime) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

type lockedWriter struct{ r *fakeRuntime }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.out.Write(p)
}
