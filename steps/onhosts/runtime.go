package onhosts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/steps"
)

// nodeRuntime is the Runtime one node's instance sees: its undo data lives
// in the step's record under its name, its blobs and journals are named
// after it, its lines and output carry its name.
type nodeRuntime struct {
	steps.Runtime
	w    *run
	name string
	out  io.Writer
}

func (w *run) nodeRuntime(name string) *nodeRuntime {
	return &nodeRuntime{Runtime: w.rt, w: w, name: name, out: &prefixWriter{w: w.rt.Output(), prefix: "[" + name + "] ", mu: &w.outMu, start: true}}
}

// SaveUndo keeps v as this node's undo data in the step's record.
func (r *nodeRuntime) SaveUndo(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.rec.Nodes[r.name]
	if n == nil {
		n = &nodeRecord{State: StateStarted}
		w.rec.Nodes[r.name] = n
		w.rec.Order = append(w.rec.Order, r.name)
	}
	n.Undo = data
	return w.rt.SaveUndo(w.rec)
}

// LoadUndo reads this node's undo data.
func (r *nodeRuntime) LoadUndo(v any) (bool, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	n := r.w.rec.Nodes[r.name]
	if n == nil || len(n.Undo) == 0 {
		return false, nil
	}
	return true, json.Unmarshal(n.Undo, v)
}

func (r *nodeRuntime) blob(name string) string { return "n-" + r.name + "-" + name }

// SaveBlob stores a blob named after the node.
func (r *nodeRuntime) SaveBlob(name string, data []byte) error {
	return r.Runtime.SaveBlob(r.blob(name), data)
}

// LoadBlob reads a blob named after the node.
func (r *nodeRuntime) LoadBlob(name string) ([]byte, bool, error) {
	return r.Runtime.LoadBlob(r.blob(name))
}

// OpenJournal opens a journal named after the node.
func (r *nodeRuntime) OpenJournal(name string) (*checkpoint.Journal, error) {
	return r.Runtime.OpenJournal(r.blob(name))
}

// ReadJournal replays a journal named after the node.
func (r *nodeRuntime) ReadJournal(name string, fn func(line []byte) error) error {
	return r.Runtime.ReadJournal(r.blob(name), fn)
}

// SetOutput records node.<name>.<key>.
func (r *nodeRuntime) SetOutput(key, value string) {
	r.Runtime.SetOutput("node."+r.name+"."+key, value)
}

// SetSummary logs the node's summary (the step's summary lists the nodes).
func (r *nodeRuntime) SetSummary(text string) { r.Runtime.Logf("[%s] %s", r.name, text) }

// Logf prefixes the line with the node's name.
func (r *nodeRuntime) Logf(format string, args ...any) {
	r.Runtime.Logf("[%s] %s", r.name, fmt.Sprintf(format, args...))
}

// Output prefixes each line with the node's name.
func (r *nodeRuntime) Output() io.Writer { return r.out }

// prefixWriter prefixes each line, writing under a mutex shared by the
// step's nodes.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     *sync.Mutex
	start  bool // the next byte starts a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	var out []byte
	for len(b) > 0 {
		if p.start {
			out = append(out, p.prefix...)
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out, b, p.start = append(out, b...), nil, false
			break
		}
		out, b, p.start = append(out, b[:i+1]...), b[i+1:], true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}
