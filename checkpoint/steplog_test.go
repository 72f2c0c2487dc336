package checkpoint_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/checkpoint"
)

// manySteps is a running state of n pending steps.
func manySteps(n int) *checkpoint.State {
	st := &checkpoint.State{Plan: "big", PlanFile: "plan.hcl", RunID: "01", Phase: checkpoint.PhaseRunning,
		StartedAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	for i := range n {
		st.Steps = append(st.Steps, checkpoint.StepState{ID: fmt.Sprintf("exec.s%d", i), Status: checkpoint.StatusPending})
	}
	return st
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A step's mark writes the same number of bytes whatever the plan's length,
// and never rewrites state.json: the cost of a step does not grow with the
// plan (issue 14). Load sees every mark.
func TestSaveStepCostDoesNotGrowWithThePlan(t *testing.T) {
	var written []int64
	for _, n := range []int{10, 5000} {
		s, dir := openStore(t)
		st := manySteps(n)
		if err := s.Save(st); err != nil {
			t.Fatal(err)
		}
		before := readFile(t, filepath.Join(dir, "state.json"))
		rec := &st.Steps[7]
		rec.Status, rec.Attempts, rec.Summary = checkpoint.StatusDone, 1, "ran"
		start := time.Date(2025, 3, 1, 10, 1, 0, 0, time.UTC)
		st.WindowStart, st.PastPointOfNoReturn = &start, true
		if err := s.SaveStep(st, rec.ID); err != nil {
			t.Fatal(err)
		}
		if readFile(t, filepath.Join(dir, "state.json")) != before {
			t.Errorf("%d steps: SaveStep rewrote state.json", n)
		}
		written = append(written, fileSize(t, filepath.Join(dir, "state.log")))

		got, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		if g := got.Step(rec.ID); g.Status != checkpoint.StatusDone || g.Summary != "ran" || !got.PastPointOfNoReturn ||
			got.WindowStart == nil || !got.WindowStart.Equal(start) {
			t.Errorf("%d steps: Load does not see the mark: %+v, window %v, ponr %v", n, g, got.WindowStart, got.PastPointOfNoReturn)
		}
		if got.Step("exec.s8").Status != checkpoint.StatusPending {
			t.Errorf("%d steps: another step changed", n)
		}
	}
	// the same, but for the digits of the time stamp
	if d := written[1] - written[0]; d < -10 || d > 10 {
		t.Errorf("a mark wrote %d bytes in a 10-step plan and %d in a 5000-step plan, want the same", written[0], written[1])
	}
}

// Save writes state.json whole and removes state.log; a log line written
// before that Save (a crash between the two) is ignored, since its base is
// not the new state.json.
func TestSaveCompactsTheLog(t *testing.T) {
	s, dir := openStore(t)
	st := manySteps(3)
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	st.Steps[0].Status = checkpoint.StatusDone
	if err := s.SaveStep(st, "exec.s0"); err != nil {
		t.Fatal(err)
	}
	stale := readFile(t, filepath.Join(dir, "state.log"))
	st.Steps[0].Status = checkpoint.StatusFailed // a later whole save
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.log")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state.log left after Save: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.log"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := checkpointAt(t, dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Steps[0].Status != checkpoint.StatusFailed {
		t.Errorf("a stale log line was applied: status %s, want failed", got.Steps[0].Status)
	}
}

func checkpointAt(t *testing.T, dir string) *checkpoint.Store {
	t.Helper()
	s, err := checkpoint.OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A torn last line (a crash in the middle of an append, never synced) is
// ignored and cut off by the next mark; a damaged line before the last is
// refused as corrupt, naming the file and the line.
func TestStateLogTornAndCorrupt(t *testing.T) {
	s, dir := openStore(t)
	st := manySteps(3)
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		st.Steps[i].Status = checkpoint.StatusDone
		if err := s.SaveStep(st, st.Steps[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "state.log")
	good := readFile(t, logPath)
	lines := strings.SplitAfter(good, "\n")

	// torn: the second line cut in the middle
	torn := lines[0] + lines[1][:len(lines[1])/2]
	if err := os.WriteFile(logPath, []byte(torn), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := checkpointAt(t, dir)
	got, err := s2.Load()
	if err != nil {
		t.Fatalf("a torn last line: %v", err)
	}
	if got.Steps[0].Status != checkpoint.StatusDone || got.Steps[1].Status != checkpoint.StatusPending {
		t.Errorf("after a torn last line: %s %s, want done pending", got.Steps[0].Status, got.Steps[1].Status)
	}
	got.Steps[2].Status = checkpoint.StatusStarted
	if err := s2.SaveStep(got, "exec.s2"); err != nil {
		t.Fatal(err)
	}
	again, err := checkpointAt(t, dir).Load()
	if err != nil {
		t.Fatalf("after appending to a torn log: %v", err)
	}
	if again.Steps[2].Status != checkpoint.StatusStarted {
		t.Errorf("mark after a torn line lost: %s", again.Steps[2].Status)
	}

	// corrupt: a byte of the first line changed
	bad := strings.Replace(lines[0], `"done"`, `"dune"`, 1) + lines[1]
	if err := os.WriteFile(logPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = checkpointAt(t, dir).Load()
	var ce *checkpoint.CorruptError
	if !errors.As(err, &ce) || ce.Path != logPath || !strings.Contains(err.Error(), "line 1 does not match its digest") {
		t.Errorf("a changed line: %v, want a CorruptError naming %s line 1", err, logPath)
	}
}

// Audit lines written with AuditWithNextSave are in the log after the next
// SaveStep, in order, between lines written with Audit.
func TestAuditWithNextSave(t *testing.T) {
	s, dir := openStore(t)
	st := manySteps(1)
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Audit(checkpoint.AuditRecord{Event: "run.start"}))
	must(s.AuditWithNextSave(checkpoint.AuditRecord{Event: "step.start", Step: "exec.s0"}))
	must(s.SaveStep(st, "exec.s0"))
	must(s.AuditWithNextSave(checkpoint.AuditRecord{Event: "step.done", Step: "exec.s0"}))
	must(s.Flush())
	must(s.Audit(checkpoint.AuditRecord{Event: "run.end"}))
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "audit.jsonl"))), "\n") {
		var r checkpoint.AuditRecord
		must(json.Unmarshal([]byte(line), &r))
		events = append(events, r.Event)
	}
	if got := strings.Join(events, " "); got != "run.start step.start step.done run.end" {
		t.Errorf("audit events %q", got)
	}
}
