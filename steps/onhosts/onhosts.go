// Package onhosts runs a step on each of the plan's hosts (`on = ...`): one
// instance of the step per host, decoded with `node` bound to that host,
// all at once or in batches of N with a gate (a health check of each node of
// the batch) before the next batch starts. It records each node's state in
// the step's undo data, so the rollback touches exactly the nodes that ran:
// a change is undone per node, newest first (its `rollback { command }` runs
// on that node); a restart or check runs again in phase 2 on those nodes
// only.
package onhosts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/steps"
)

// Node is one host's instance of the step.
type Node struct {
	Name string
	// Impl is the step decoded for this host.
	Impl steps.Step
	// Gate, if set, must pass on this node before the next batch starts.
	Gate steps.Step
	// Host reaches the node.
	Host transport.Transport
}

// RollbackCommand is a step's `rollback { command }`, run on each node that
// ran.
type RollbackCommand struct {
	Argv   []string
	Secret []bool
	Env    map[string]string
}

// Step runs Nodes.
type Step struct {
	Nodes []Node
	// Batch is how many nodes run at once; 0 means all.
	Batch int
	// Rollback, if set, compensates each node that ran.
	Rollback *RollbackCommand
	// GateTimeout bounds each node's gate; 0: the step's own deadline (or
	// the gate's default).
	GateTimeout time.Duration
}

// Node states recorded in the undo data and shown in the report.
const (
	StateStarted    = "started"
	StateDone       = "done"
	StateFailed     = "failed"
	StateGateFailed = "gate failed"
	StateUndone     = "undone"
	StateNotStarted = "not started"
)

// record is the step's undo data: each node's state, and the undo data of
// the node's own instance.
type record struct {
	Order []string               `json:"order"` // nodes in the order they started
	Nodes map[string]*nodeRecord `json:"nodes"`
}

type nodeRecord struct {
	State string          `json:"state"`
	Undo  json.RawMessage `json:"undo,omitempty"`
}

// RunsRollbackCommand tells the engine that Undo runs the step's
// `rollback { command }` itself, on each node.
func (s *Step) RunsRollbackCommand() bool { return s.Rollback != nil }

// Plan checks every host (connection, host key, clock skew) and returns
// each node's actions, prefixed with its name.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	w := &run{s: s, rt: rt}
	per := make([][]steps.Action, len(s.Nodes))
	errs := each(len(s.Nodes), func(i int) error {
		n := s.Nodes[i]
		line, err := n.Host.Check(ctx)
		if err != nil {
			return err
		}
		acts, err := n.Impl.Plan(ctx, w.nodeRuntime(n.Name))
		if err == nil && n.Gate != nil {
			var more []steps.Action
			more, err = n.Gate.Plan(ctx, w.nodeRuntime(n.Name))
			for i := range more {
				more[i].Summary = "gate: " + more[i].Summary
			}
			acts = append(acts, more...)
		}
		per[i] = append([]steps.Action{{Summary: line}}, acts...)
		return err
	})
	if err := joinNodes(s.Nodes, errs); err != nil {
		return nil, err
	}
	var out []steps.Action
	for i, acts := range per {
		for _, a := range acts {
			if !strings.HasPrefix(a.Summary, "host ") {
				a.Summary = "[" + s.Nodes[i].Name + "] " + a.Summary
			}
			out = append(out, a)
		}
	}
	if s.Batch > 0 && s.Batch < len(s.Nodes) {
		out = append(out, steps.Action{Summary: fmt.Sprintf("in batches of %d%s", s.Batch, map[bool]string{true: ", each gated", false: ""}[s.Nodes[0].Gate != nil])})
	}
	return out, nil
}

// Apply runs the nodes batch by batch: every node of a batch at once, then
// the batch's gates; a failure stops the roll (later batches never start).
// In a rollback (phase 2) only the nodes the forward run started run again.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	w := &run{s: s, rt: rt}
	if err := w.load(); err != nil {
		return err
	}
	nodes := s.Nodes
	if rt.RollingBack() {
		nodes = w.touched()
	}
	batch := s.Batch
	if batch <= 0 {
		batch = len(nodes)
	}
	for start := 0; start < len(nodes); start += batch {
		part := nodes[start:min(start+batch, len(nodes))]
		if err := w.batch(ctx, part); err != nil {
			w.summary()
			return err
		}
	}
	w.summary()
	return nil
}

// Undo compensates each node that started, newest first: its rollback
// command on that node, or its own Undo. A node that fails (unreachable)
// does not stop the others; the error names it, and `cutover rollback`
// runs the remaining nodes again (undone ones are skipped).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	w := &run{s: s, rt: rt}
	if err := w.load(); err != nil {
		return err
	}
	byName := map[string]Node{}
	for _, n := range s.Nodes {
		byName[n.Name] = n
	}
	var errs []error
	for i := len(w.rec.Order) - 1; i >= 0; i-- {
		name := w.rec.Order[i]
		if w.state(name) == StateUndone {
			continue
		}
		n, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("node %s: no longer in the step's hosts: restore it by hand", name))
			continue
		}
		if err := w.undoNode(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", name, err))
			continue
		}
		if err := w.mark(name, StateUndone); err != nil {
			return err
		}
	}
	w.summary()
	return errors.Join(errs...)
}

func (w *run) undoNode(ctx context.Context, n Node) error {
	if c := w.s.Rollback; c != nil {
		return n.Host.Run(ctx, transport.Command{Argv: c.Argv, Secret: c.Secret, Env: c.Env, Output: w.rt.Output(), Secrets: w.rt.Secrets()})
	}
	return n.Impl.Undo(ctx, w.nodeRuntime(n.Name))
}

// run is one Plan, Apply or Undo of a Step.
type run struct {
	s     *Step
	rt    steps.Runtime
	mu    sync.Mutex
	rec   record
	outMu sync.Mutex // serialises the nodes' output
}

func (w *run) load() error {
	if _, err := w.rt.LoadUndo(&w.rec); err != nil {
		return err
	}
	if w.rec.Nodes == nil {
		w.rec.Nodes = map[string]*nodeRecord{}
	}
	return nil
}

func (w *run) state(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r := w.rec.Nodes[name]; r != nil {
		return r.State
	}
	return StateNotStarted
}

// touched lists the nodes the forward run started, in plan order.
func (w *run) touched() []Node {
	var out []Node
	for _, n := range w.s.Nodes {
		if slices.Contains(w.rec.Order, n.Name) {
			out = append(out, n)
		}
	}
	return out
}

// mark records a node's state durably (not during a rollback's phase 2,
// which must not change what the forward run recorded).
func (w *run) mark(name, state string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rt.RollingBack() && state != StateUndone {
		return nil
	}
	r := w.rec.Nodes[name]
	if r == nil {
		r = &nodeRecord{}
		w.rec.Nodes[name] = r
		w.rec.Order = append(w.rec.Order, name)
	}
	r.State = state
	w.rt.SetOutput("node."+name, state)
	return w.rt.SaveUndo(w.rec)
}

// batch runs part at once, then its gates.
func (w *run) batch(ctx context.Context, part []Node) error {
	errs := each(len(part), func(i int) error {
		n := part[i]
		if err := w.mark(n.Name, StateStarted); err != nil {
			return err
		}
		err := n.Impl.Apply(ctx, w.nodeRuntime(n.Name))
		state := StateDone
		if err != nil {
			state = StateFailed
		}
		if merr := w.mark(n.Name, state); err == nil {
			err = merr
		}
		return err
	})
	if err := joinNodes(part, errs); err != nil {
		return w.stopped(err)
	}
	errs = each(len(part), func(i int) error {
		n := part[i]
		if n.Gate == nil {
			return nil
		}
		gctx := ctx
		if w.s.GateTimeout > 0 {
			var cancel context.CancelFunc
			gctx, cancel = context.WithTimeout(ctx, w.s.GateTimeout)
			defer cancel()
		}
		if err := n.Gate.Apply(gctx, w.nodeRuntime(n.Name)); err != nil {
			if merr := w.mark(n.Name, StateGateFailed); merr != nil {
				return merr
			}
			return fmt.Errorf("gate: %w", err)
		}
		return nil
	})
	if err := joinNodes(part, errs); err != nil {
		return w.stopped(err)
	}
	return nil
}

// stopped adds the nodes that never started to a batch's error.
func (w *run) stopped(err error) error {
	var later []string
	for _, n := range w.s.Nodes {
		if w.state(n.Name) == StateNotStarted {
			later = append(later, n.Name)
		}
	}
	if len(later) == 0 || w.rt.RollingBack() {
		return err
	}
	return fmt.Errorf("%w; not started: %s", err, strings.Join(later, ", "))
}

// summary records every node's state as the step's summary.
func (w *run) summary() {
	var parts []string
	for _, n := range w.s.Nodes {
		parts = append(parts, n.Name+": "+w.state(n.Name))
	}
	w.rt.SetSummary("nodes " + strings.Join(parts, ", "))
}

// each runs fn(0..n-1) at once and returns their errors.
func each(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}

// joinNodes joins the nodes' errors, each naming its node.
func joinNodes(nodes []Node, errs []error) error {
	var out []error
	for i, err := range errs {
		if err != nil {
			out = append(out, &NodeError{Node: nodes[i].Name, Err: err})
		}
	}
	return errors.Join(out...)
}

// NodeError is one node's failure.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return "node " + e.Node + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }
