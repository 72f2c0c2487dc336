package rollback

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps"
)

// stepSpec is one step of a test plan: its ID, kind, recorded status and
// optional rollback override.
type stepSpec struct {
	id     string
	kind   steps.Kind
	status checkpoint.Status
	over   *plan.RollbackOverride
}

// fixture builds a plan and the checkpoint state of a run of it.
func fixture(specs ...stepSpec) (*plan.Plan, *checkpoint.State) {
	p := &plan.Plan{Name: "t"}
	st := &checkpoint.State{Plan: "t", Phase: checkpoint.PhaseRunning}
	for _, s := range specs {
		typ, name, _ := strings.Cut(s.id, ".")
		p.Steps = append(p.Steps, &plan.Step{ID: s.id, Type: typ, Name: name, Info: steps.Type{Name: typ, Kind: s.kind}, Rollback: s.over})
		st.Steps = append(st.Steps, checkpoint.StepState{ID: s.id, Status: s.status})
	}
	return p, st
}

// render lists actions as "phase op step".
func render(actions []checkpoint.RollbackAction) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = fmt.Sprintf("%d %s %s", a.Phase, a.Op, a.Step)
	}
	return out
}

const (
	done    = checkpoint.StatusDone
	started = checkpoint.StatusStarted
	failed  = checkpoint.StatusFailed
	pending = checkpoint.StatusPending
	skipped = checkpoint.StatusSkipped
)

func TestActionsOrder(t *testing.T) {
	p, st := fixture(
		stepSpec{id: "drain.first", kind: steps.KindDrain, status: done},
		stepSpec{id: "health_check.before", kind: steps.KindRedo, status: done}, // before any change: not redone
		stepSpec{id: "env.switch", kind: steps.KindChange, status: done},
		stepSpec{id: "approve.go", kind: steps.KindNone, status: done},
		stepSpec{id: "exec.migrate", kind: steps.KindChange, status: done},
		stepSpec{id: "restart.app", kind: steps.KindRedo, status: done},
		stepSpec{id: "drain.second", kind: steps.KindDrain, status: done},
		stepSpec{id: "exec.kept", kind: steps.KindChange, status: done, over: &plan.RollbackOverride{Skip: true}},
		stepSpec{id: "health_check.cmd", kind: steps.KindRedo, status: done, over: &plan.RollbackOverride{Command: []string{"true"}}},
		stepSpec{id: "env.skipped", kind: steps.KindChange, status: skipped},
		stepSpec{id: "health_check.ready", kind: steps.KindRedo, status: failed},
		stepSpec{id: "env.crashed", kind: steps.KindChange, status: started},
		stepSpec{id: "env.later", kind: steps.KindChange, status: pending},
		stepSpec{id: "restart.later", kind: steps.KindRedo, status: pending},
	)
	got := render(Actions(p, st))
	want := []string{
		// phase 1: changes newest first; a started step may have acted; a
		// rollback command makes a check a change.
		"1 undo env.crashed",
		"1 undo health_check.cmd",
		"1 undo exec.migrate",
		"1 undo env.switch",
		// phase 2: restarts and checks after the first change, oldest first.
		"2 redo restart.app",
		"2 redo health_check.ready",
		// phase 3: drains last, newest first.
		"3 release drain.second",
		"3 release drain.first",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, a := range Actions(p, st) {
		if a.Status != checkpoint.StatusPending {
			t.Errorf("new action %s is %s, want pending", a.Step, a.Status)
		}
	}
}

func TestActionsNothingTouched(t *testing.T) {
	p, st := fixture(
		stepSpec{id: "drain.d", kind: steps.KindDrain, status: pending},
		stepSpec{id: "env.e", kind: steps.KindChange, status: skipped},
		stepSpec{id: "restart.r", kind: steps.KindRedo, status: done}, // no change before it
	)
	if got := Actions(p, st); len(got) != 0 {
		t.Errorf("actions %v, want none", render(got))
	}
}

// fakeExec runs actions by recording them; fail maps step IDs to the error
// their action returns (until removed).
type fakeExec struct {
	ran  []string
	fail map[string]error
}

func (f *fakeExec) Run(_ context.Context, a *checkpoint.RollbackAction, s *plan.Step) error {
	f.ran = append(f.ran, fmt.Sprintf("%s %s", a.Op, s.ID))
	if err := f.fail[s.ID]; err != nil {
		return err
	}
	a.Summary = "did " + s.ID
	return nil
}

// fakeRecorder checks that every action is saved as started before it runs.
type fakeRecorder struct {
	t        *testing.T
	saves    int
	started  []string
	finished []string
}

func (r *fakeRecorder) saveRollback() { r.saves++ }

func (r *fakeRecorder) actionStarted(a *checkpoint.RollbackAction) {
	if a.Status != checkpoint.StatusStarted || a.StartedAt == nil {
		r.t.Errorf("action %s reported started with status %s", a.Step, a.Status)
	}
	r.started = append(r.started, a.Step)
}

func (r *fakeRecorder) actionFinished(a *checkpoint.RollbackAction, _ time.Duration, err error) {
	r.finished = append(r.finished, fmt.Sprintf("%s:%v", a.Step, err))
}

// drive continues the recorded rollback of st the way the engine does: each
// action runs between Next and Finish, and the state is saved after every
// call that changes it.
func drive(p *plan.Plan, st *checkpoint.State, ex *fakeExec, rec *fakeRecorder) error {
	seq := &Sequence{plan: p, state: st}
	for {
		a, s, err := seq.Next()
		if a == nil {
			seq.Complete()
			rec.saveRollback()
			return nil
		}
		if err == nil {
			rec.saveRollback()
			rec.actionStarted(a)
			err = ex.Run(context.Background(), a, s)
			rec.actionFinished(a, 0, err)
		}
		stop := seq.Finish(a, err)
		rec.saveRollback()
		if stop != nil {
			return stop
		}
	}
}

func threePhaseRun() (*plan.Plan, *checkpoint.State) {
	return fixture(
		stepSpec{id: "drain.work", kind: steps.KindDrain, status: done},
		stepSpec{id: "env.switch", kind: steps.KindChange, status: done},
		stepSpec{id: "exec.migrate", kind: steps.KindChange, status: done},
		stepSpec{id: "restart.app", kind: steps.KindRedo, status: done},
		stepSpec{id: "health_check.ready", kind: steps.KindRedo, status: failed},
	)
}

func TestContinueStopsAndResumes(t *testing.T) {
	p, st := threePhaseRun()
	rb := Begin(p, st, "health check failed", false).Record()
	if st.Phase != checkpoint.PhaseRollingBack || rb != st.Rollback || len(rb.Actions) != 5 {
		t.Fatalf("Begin: phase %s, %d actions", st.Phase, len(rb.Actions))
	}
	cause := errors.New("disk full")
	ex := &fakeExec{fail: map[string]error{"env.switch": cause}}
	rec := &fakeRecorder{t: t}

	err := drive(p, st, ex, rec)
	var ae *CompensationError
	if !errors.As(err, &ae) || !errors.Is(err, cause) || ae.Action.Step != "env.switch" || ae.Action.Phase != 1 {
		t.Fatalf("Continue: %v, want an ActionError for phase 1 env.switch wrapping the cause", err)
	}
	if want := []string{"undo exec.migrate", "undo env.switch"}; !reflect.DeepEqual(ex.ran, want) {
		t.Errorf("ran %v, want %v (nothing after the failed action)", ex.ran, want)
	}
	if st.Phase != checkpoint.PhaseRollbackFailed || !strings.Contains(st.Error, "phase 1 undo of env.switch failed: disk full") {
		t.Errorf("state after the failure: %s %q", st.Phase, st.Error)
	}
	statuses := func() []string {
		var out []string
		for _, a := range st.Rollback.Actions {
			out = append(out, fmt.Sprintf("%s:%s:%d", a.Step, a.Status, a.Attempts))
		}
		return out
	}
	want := []string{"exec.migrate:done:1", "env.switch:failed:1", "restart.app:pending:0", "health_check.ready:pending:0", "drain.work:pending:0"}
	if got := statuses(); !reflect.DeepEqual(got, want) {
		t.Errorf("actions after the failure %v, want %v", got, want)
	}
	if a := st.Rollback.Actions[1]; a.Error != "disk full" || a.FinishedAt == nil {
		t.Errorf("failed action records %q, finished %v", a.Error, a.FinishedAt)
	}
	if st.Rollback.FinishedAt != nil {
		t.Error("a stopped rollback is marked finished")
	}

	// The cause is fixed: a second Continue retries env.switch and goes on.
	delete(ex.fail, "env.switch")
	ex.ran = nil
	if err := drive(p, st, ex, rec); err != nil {
		t.Fatal(err)
	}
	if want := []string{"undo env.switch", "redo restart.app", "redo health_check.ready", "release drain.work"}; !reflect.DeepEqual(ex.ran, want) {
		t.Errorf("second Continue ran %v, want %v", ex.ran, want)
	}
	want = []string{"exec.migrate:done:1", "env.switch:done:2", "restart.app:done:1", "health_check.ready:done:1", "drain.work:done:1"}
	if got := statuses(); !reflect.DeepEqual(got, want) {
		t.Errorf("actions after the second Continue %v, want %v", got, want)
	}
	if st.Phase != checkpoint.PhaseRolledBack || st.Rollback.FinishedAt == nil || st.Rollback.Actions[1].Error != "" {
		t.Errorf("finished rollback: phase %s, finished %v, error %q", st.Phase, st.Rollback.FinishedAt, st.Rollback.Actions[1].Error)
	}
	if st.Rollback.Actions[0].Summary != "did exec.migrate" {
		t.Errorf("summary %q not kept", st.Rollback.Actions[0].Summary)
	}
	if rec.saves < 2*len(st.Rollback.Actions) {
		t.Errorf("%d saves for %d actions: each action must be saved started and finished", rec.saves, len(st.Rollback.Actions))
	}

	// A finished rollback is not redone, and Begin keeps its record.
	ex.ran = nil
	rb = Begin(p, st, "again", true).Record()
	if rb.Reason != "health check failed" || rb.Manual {
		t.Errorf("Begin replaced the recorded rollback: %+v", rb)
	}
	if err := drive(p, st, ex, rec); err != nil {
		t.Fatal(err)
	}
	if len(ex.ran) != 0 {
		t.Errorf("a finished rollback ran %v again", ex.ran)
	}
	if st.Phase != checkpoint.PhaseRolledBack {
		t.Errorf("phase %s", st.Phase)
	}
}

// TestContinueMasksSecrets: a compensation's error may quote a secret (a
// command line, a URL); the checkpoint must hold it masked.
func TestContinueMasksSecrets(t *testing.T) {
	p, st := threePhaseRun()
	p.Secrets = &secret.Set{}
	p.Secrets.Add("s3cr3t-token-value")
	Begin(p, st, "r", false)
	ex := &fakeExec{fail: map[string]error{"exec.migrate": errors.New("command curl -H s3cr3t-token-value exited with status 7")}}
	if err := drive(p, st, ex, &fakeRecorder{t: t}); err == nil {
		t.Fatal("Continue succeeded")
	}
	for what, text := range map[string]string{"action error": st.Rollback.Actions[0].Error, "state error": st.Error} {
		if strings.Contains(text, "s3cr3t") || !strings.Contains(text, "curl -H (sensitive) exited with status 7") {
			t.Errorf("%s %q: want the secret masked", what, text)
		}
	}
}

func TestContinueStepRemovedFromPlan(t *testing.T) {
	p, st := threePhaseRun()
	Begin(p, st, "r", true)
	p.Steps = p.Steps[:1] // only drain.work is left
	ex := &fakeExec{}
	err := drive(p, st, ex, &fakeRecorder{t: t})
	if err == nil || !strings.Contains(err.Error(), "exec.migrate is not in the plan any more") {
		t.Errorf("Continue with a step missing from the plan: %v", err)
	}
	if len(ex.ran) != 0 || st.Phase != checkpoint.PhaseRollbackFailed {
		t.Errorf("ran %v, phase %s", ex.ran, st.Phase)
	}
}

func TestStepsAfterPointOfNoReturn(t *testing.T) {
	p, st := fixture(
		stepSpec{id: "env.switch", kind: steps.KindChange, status: done},
		stepSpec{id: "resume.work", kind: steps.KindNone, status: done},
		stepSpec{id: "exec.report", kind: steps.KindChange, status: failed},
		stepSpec{id: "exec.never", kind: steps.KindChange, status: pending},
	)
	p.PointOfNoReturn = "resume.work"
	if got, want := StepsAfterPointOfNoReturn(p, st), []string{"resume.work", "exec.report"}; !reflect.DeepEqual(got, want) {
		t.Errorf("steps after the point of no return %v, want %v", got, want)
	}
	p.PointOfNoReturn = ""
	if got := StepsAfterPointOfNoReturn(p, st); got != nil {
		t.Errorf("without a point of no return: %v", got)
	}
}
