package engine

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/plan"
)

// Resolutions an operator can give for a step a crash left started.
const (
	ResolveDone  = "done"  // the operator checked that the step completed
	ResolveRerun = "rerun" // run the step again
)

// resumeDecision settles a step that a previous process left started or
// failed. An idempotent step runs again; any other stops the run with the
// operator's choices, unless --resolve settled it. If the operator marked it
// done, rec is marked done and the caller moves on.
func (e *execution) resumeDecision(s *plan.Step, rec *checkpoint.StepState) (Result, bool) {
	switch e.opts.Resolve[s.ID] {
	case ResolveDone:
		rec.Status, rec.Process = checkpoint.StatusDone, nil
		rec.Summary = "marked done by the operator (--resolve)"
		if s.ID == e.plan.PointOfNoReturn {
			e.st.PastPointOfNoReturn = true
		}
		_ = e.saveStep(s.ID) // noted: a failure stops the run before the step
		e.emit(event.Event{Type: event.StepDone, Step: s.ID, Status: ResolveDone, Message: rec.Summary})
		return Result{}, false
	case ResolveRerun:
		e.emit(event.Event{Type: event.Notice, Step: s.ID, Message: "running the interrupted step again (--resolve " + s.ID + "=rerun)"})
		return Result{}, false
	}
	if s.Info.Idempotent {
		e.emit(event.Event{Type: event.Notice, Step: s.ID, Message: fmt.Sprintf("step was %s by the previous process; it is safe to re-run, running it again", rec.Status)})
		return Result{}, false
	}
	e.st.Phase = checkpoint.PhaseStopped
	e.st.Error = fmt.Sprintf("step %s was left %s by the previous process, and %s steps are not safe to run twice", s.ID, rec.Status, s.Type)
	e.record()
	e.emit(event.Event{Type: event.RunEnd, Status: string(checkpoint.PhaseStopped), Step: s.ID, Message: e.st.Error})
	next := fmt.Sprintf("check what %s did, then choose one:\n  %s\n  %s\n  %s", s.ID,
		e.cmd("run", "it completed", "--resolve", s.ID+"="+ResolveDone),
		e.cmd("run", "run it again", "--resolve", s.ID+"="+ResolveRerun),
		e.cmd("rollback", "undo the run"))
	return Result{Outcome: Stopped, State: e.st, Err: fmt.Errorf("%w: %s", ErrNeedsDecision, e.st.Error), Next: next}, true
}

// liveCommand refuses to go on while a command the interrupted process
// started (a step or a compensation whose process group the checkpoint
// recorded) still has a process on this host: running the step again, or
// rolling it back, next to it could do its work twice. next names the
// command that goes on once it has ended.
func (e *execution) liveCommand(next string) (Result, bool) {
	host, _ := os.Hostname()
	check := func(what string, p *checkpoint.Process) (Result, bool) {
		if p == nil {
			return Result{}, false
		}
		if p.Host != host {
			e.emit(event.Event{Type: event.Notice, Message: fmt.Sprintf("%s was running `%s` (process group %d) on host %s when the previous process ended; cutover cannot see that host's processes: check that it has ended", what, p.Command, p.PGID, p.Host)})
			return Result{}, false
		}
		live := command.LiveGroup(p.PGID)
		if len(live) == 0 {
			return Result{}, false
		}
		procs := make([]string, len(live))
		for i, m := range live {
			procs[i] = fmt.Sprintf("pid %d %s", m.PID, m.Command)
		}
		err := fmt.Errorf("%w: %s's command `%s` (process group %d, started %s) still runs: %s", ErrCommandRunning, what, p.Command, p.PGID,
			p.StartedAt.Format(time.RFC3339), strings.Join(procs, "; "))
		return Result{Outcome: Failed, State: e.st, Err: err,
			Next: fmt.Sprintf("wait for it to end, or stop it: kill -TERM -- -%d   (kill -KILL -- -%d if it stays); then %s", p.PGID, p.PGID, next)}, true
	}
	for i := range e.st.Steps {
		if r, stop := check("step "+e.st.Steps[i].ID, e.st.Steps[i].Process); stop {
			return r, true
		}
	}
	if e.st.Rollback != nil {
		for i := range e.st.Rollback.Actions {
			a := &e.st.Rollback.Actions[i]
			if r, stop := check(fmt.Sprintf("the rollback's phase %d %s of %s", a.Phase, a.Op, a.Step), a.Process); stop {
				return r, true
			}
		}
	}
	return Result{}, false
}
