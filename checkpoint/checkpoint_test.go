package checkpoint_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/checkpoint"
)

// openStore opens a store in a fresh directory.
func openStore(t *testing.T) (*checkpoint.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	s, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func sampleState() *checkpoint.State {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)
	t1 := t0.Add(90 * time.Second)
	return &checkpoint.State{
		Plan: "demo", PlanFile: "plan.hcl", PlanHash: "abc", InputsMAC: "def",
		RunID: "0102030405060708", Phase: checkpoint.PhaseRollbackFailed, StartedAt: t0, WindowStart: &t0,
		PastPointOfNoReturn: true,
		Steps: []checkpoint.StepState{
			{ID: "env.switch", Status: checkpoint.StatusDone, Attempts: 1, StartedAt: &t0, FinishedAt: &t1,
				Undo: json.RawMessage(`{"files":[{"path":"app.env","before_sha256":"aa"}]}`), Outputs: map[string]string{"count": "2"}, Summary: "1 file(s) changed"},
			{ID: "health_check.ready", Status: checkpoint.StatusFailed, Error: "status 503"},
			{ID: "exec.last", Status: checkpoint.StatusPending},
		},
		Rollback: &checkpoint.Rollback{Reason: "step failed", StartedAt: t1, Actions: []checkpoint.RollbackAction{
			{Phase: 1, Op: checkpoint.OpUndo, Step: "env.switch", Status: checkpoint.StatusFailed, Attempts: 2, Error: "disk full"},
		}},
		Error: "rollback stopped",
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s, dir := openStore(t)
	if _, err := s.Load(); !errors.Is(err, checkpoint.ErrNoState) {
		t.Fatalf("Load of an empty store: %v, want ErrNoState", err)
	}
	st := sampleState()
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	if st.Version != checkpoint.SchemaVersion || st.UpdatedAt.IsZero() {
		t.Errorf("Save did not stamp version and time: %d %v", st.Version, st.UpdatedAt)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(st)
	have, _ := json.Marshal(got)
	if string(want) != string(have) {
		t.Errorf("round trip differs:\nsaved  %s\nloaded %s", want, have)
	}
	if got.Step("health_check.ready").Error != "status 503" || got.Rollback.NextRollbackAction().Step != "env.switch" {
		t.Errorf("loaded state lost content: %+v", got)
	}

	// Saving again replaces the file atomically: no temp file is left behind.
	st.Phase = checkpoint.PhaseRolledBack
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(); got.Phase != checkpoint.PhaseRolledBack {
		t.Errorf("second save not visible: %s", got.Phase)
	}
	if want := []string{"journals", "logs", "state.json", "undo"}; !reflect.DeepEqual(names(t, dir), want) {
		t.Errorf("state dir holds %v, want %v (a temp file left behind?)", names(t, dir), want)
	}
}

func TestLoadRefusesOtherVersion(t *testing.T) {
	s, dir := openStore(t)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"version": 99, "plan": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "state version 99") {
		t.Errorf("Load of version 99: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"version": 2, `), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil || errors.Is(err, checkpoint.ErrNoState) {
		t.Errorf("Load of a torn file: %v, want a read error", err)
	}
}

func TestFileModes(t *testing.T) {
	s, dir := openStore(t)
	if err := s.Save(sampleState()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteUndoBlob("env.switch", "file-0", []byte("SECRET=1\n")); err != nil {
		t.Fatal(err)
	}
	j, err := s.OpenJournal("migrate_keys.to_kes", "keys")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(checkpoint.AuditRecord{Event: "run.start"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDuration("env.switch", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(checkpoint.NewLockInfo("run", "demo")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "undo", "journals", "logs"} {
		if m := mode(t, filepath.Join(dir, d)); m != 0o700 {
			t.Errorf("dir %q mode %o, want 0700", d, m)
		}
	}
	files := []string{"state.json", "undo/env.switch.file-0", "journals/migrate_keys.to_kes.keys.jsonl", "audit.jsonl", "durations.json", "lock.json"}
	for _, f := range files {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s mode %o, want 0600", f, m)
		}
	}
}

func TestLockExclusive(t *testing.T) {
	s, _ := openStore(t)
	first := checkpoint.NewLockInfo("run", "demo")
	if err := s.Lock(first); err != nil {
		t.Fatal(err)
	}
	second := checkpoint.NewLockInfo("rollback", "demo")
	err := s.Lock(second)
	var le *checkpoint.LockedError
	if !errors.As(err, &le) || !errors.Is(err, checkpoint.ErrLocked) {
		t.Fatalf("second Lock: %v, want *LockedError", err)
	}
	if !reflect.DeepEqual(le.Holder, first) {
		t.Errorf("holder %+v, want %+v", le.Holder, first)
	}
	for _, part := range []string{first.ID, first.User, first.Host, "by run"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("lock error %q does not name %q", err, part)
		}
	}

	// A wrong ID never unlocks.
	if err := s.Unlock(second.ID); !errors.Is(err, checkpoint.ErrLockMismatch) {
		t.Errorf("Unlock with a wrong ID: %v, want ErrLockMismatch", err)
	}
	if h, err := s.ReadLock(); err != nil || h.ID != first.ID {
		t.Errorf("lock after a wrong unlock: %+v %v", h, err)
	}
	if err := s.Unlock(first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLock(); !errors.Is(err, checkpoint.ErrNotLocked) {
		t.Errorf("ReadLock after unlock: %v", err)
	}
	if err := s.Unlock(first.ID); !errors.Is(err, checkpoint.ErrNotLocked) {
		t.Errorf("second Unlock: %v, want ErrNotLocked", err)
	}
	if err := s.Lock(second); err != nil {
		t.Errorf("Lock after unlock: %v", err)
	}
}

func TestLockRace(t *testing.T) {
	s, _ := openStore(t)
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Lock(checkpoint.NewLockInfo("run", "demo"))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if !errors.Is(err, checkpoint.ErrLocked) {
				t.Errorf("Lock: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of %d concurrent Lock calls succeeded, want exactly 1", won, n)
	}
}

func TestJournalTornLastLine(t *testing.T) {
	s, _ := openStore(t)
	if err := s.ReadJournal("migrate_keys.to_kes", "keys", func([]byte) error {
		t.Error("absent journal yielded a record")
		return nil
	}); err != nil {
		t.Fatalf("absent journal: %v", err)
	}
	j, err := s.OpenJournal("migrate_keys.to_kes", "keys")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2", "k3"} {
		if err := j.Append(map[string]string{"key": k}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := s.JournalPath("migrate_keys.to_kes", "keys")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"key":"k4`) // a crash in the middle of a write
	f.Close()

	var got []string
	err = s.ReadJournal("migrate_keys.to_kes", "keys", func(line []byte) error {
		var rec struct{ Key string }
		if err := json.Unmarshal(line, &rec); err != nil {
			return err
		}
		got = append(got, rec.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"k1", "k2", "k3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("journal records %v, want %v", got, want)
	}

	if _, err := s.OpenJournal("../escape", "keys"); err == nil {
		t.Error("OpenJournal accepted a step name with a path separator")
	}
}

// TestJournalAppendAfterTornLine is what a resumed step does after a crash
// tore the journal's last line: it reopens the journal and goes on. The
// first record it appends must not be glued to the torn fragment (and then
// skipped as invalid JSON by ReadJournal).
func TestJournalAppendAfterTornLine(t *testing.T) {
	s, _ := openStore(t)
	j, err := s.OpenJournal("migrate_keys.to_kes", "created")
	if err != nil {
		t.Fatal(err)
	}
	j.Append("k1")
	j.Close()
	p, _ := s.JournalPath("migrate_keys.to_kes", "created")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`"k2`) // torn by a crash
	f.Close()

	j, err = s.OpenJournal("migrate_keys.to_kes", "created")
	if err != nil {
		t.Fatal(err)
	}
	j.Append("k3")
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	s.ReadJournal("migrate_keys.to_kes", "created", func(line []byte) error {
		got = append(got, string(line))
		return nil
	})
	if want := []string{`"k1"`, `"k3"`}; !reflect.DeepEqual(got, want) {
		t.Errorf("journal records after resuming on a torn line: %v, want %v (the record appended after the crash was lost)", got, want)
	}
}

func TestUndoBlobChecked(t *testing.T) {
	s, dir := openStore(t)
	if _, err := s.ReadUndoBlob("env.switch", "file-0", checkpoint.Digest([]byte("x"))); !errors.Is(err, checkpoint.ErrCorrupt) {
		t.Fatalf("absent blob with a recorded digest: %v, want ErrCorrupt", err)
	}
	digest, err := s.WriteUndoBlob("env.switch", "file-0", []byte("ORIGINAL=1\n"))
	if err != nil || digest != checkpoint.Digest([]byte("ORIGINAL=1\n")) {
		t.Fatalf("write: %q %v", digest, err)
	}
	data, err := s.ReadUndoBlob("env.switch", "file-0", digest)
	if err != nil || string(data) != "ORIGINAL=1\n" {
		t.Errorf("blob = %q err=%v", data, err)
	}
	if m := mode(t, filepath.Join(dir, "undo", "env.switch.file-0")); m != 0o600 {
		t.Errorf("undo blob mode %o", m)
	}
	// One byte flipped: refused, naming the file and both digests' prefixes.
	p := filepath.Join(dir, "undo", "env.switch.file-0")
	if err := os.WriteFile(p, []byte("ORIGINAL=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReadUndoBlob("env.switch", "file-0", digest)
	var ce *checkpoint.CorruptError
	if !errors.As(err, &ce) || ce.Path != p || !strings.Contains(err.Error(), digest[:len("sha256:")+12]) ||
		!strings.Contains(err.Error(), checkpoint.Digest([]byte("ORIGINAL=2\n"))[:len("sha256:")+12]) {
		t.Errorf("flipped blob: %v", err)
	}
	for _, bad := range [][2]string{{"../x", "a"}, {"env.switch", "a/b"}, {"", "a"}, {"env.switch", ".."}, {"env..", "a"}, {"env.sw/../../x", "a"}} {
		if _, err := s.WriteUndoBlob(bad[0], bad[1], []byte("x")); !errors.Is(err, checkpoint.ErrInvalidName) {
			t.Errorf("WriteUndoBlob(%q, %q) = %v, want ErrInvalidName", bad[0], bad[1], err)
		}
	}
}

// TestStateChecked: a truncated, damaged or hand-edited state.json is
// refused with a *CorruptError naming it; a reformatted one is not.
func TestStateChecked(t *testing.T) {
	s, dir := openStore(t)
	p := filepath.Join(dir, "state.json")
	if err := s.Save(sampleState()); err != nil {
		t.Fatal(err)
	}
	good := readFile(t, p)
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"truncated":   good[:len(good)/2],
		"empty":       "",
		"hand-edited": strings.Replace(good, `"path": "app.env"`, `"path": "/etc/passwd"`, 1),
		"byte":        strings.Replace(good, `"phase": "rollback_failed"`, `"phase": "rollback_failex"`, 1),
		"no digest":   `{"version": 2, "plan": "demo"}`,
	} {
		if content == good {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := s.Load()
		var ce *checkpoint.CorruptError
		if st != nil || !errors.As(err, &ce) || ce.Path != p {
			t.Errorf("%s state.json: %v, want a CorruptError naming %s", name, err, p)
		}
	}
	if err := os.WriteFile(p, compact.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Load(); err != nil || st.RunID != "0102030405060708" {
		t.Errorf("reformatted (compact) state.json: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"a", "app-to-aws", "x_1", "A" + strings.Repeat("b", 63)} {
		if err := checkpoint.ValidName(ok); err != nil {
			t.Errorf("ValidName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../../x", "a/b", "a.b", "1a", "-a", "_a", "a b", "A" + strings.Repeat("b", 64), "é"} {
		if err := checkpoint.ValidName(bad); !errors.Is(err, checkpoint.ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if d, err := checkpoint.DefaultDir("/plans", "../../x"); err == nil {
		t.Errorf("DefaultDir accepted ../../x: %s", d)
	}
	if d, err := checkpoint.DefaultDir("/plans", "app"); err != nil || d != "/plans/.cutover/app" {
		t.Errorf("DefaultDir(app) = %q, %v", d, err)
	}
}

// TestOwner: a second plan file using a state directory another existing
// plan file owns is refused; the same file (by any path) passes, and a
// moved plan takes over its directory.
func TestOwner(t *testing.T) {
	s, dir := openStore(t)
	work := t.TempDir()
	a, b := filepath.Join(work, "a.hcl"), filepath.Join(work, "b.hcl")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte("cutover \"x\" {}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CheckOwner(b); err != nil {
		t.Errorf("no owner yet: %v", err)
	}
	if err := s.Claim("x", a); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim("x", filepath.Join(work, ".", "a.hcl")); err != nil {
		t.Errorf("same file: %v", err)
	}
	var oe *checkpoint.OtherPlanError
	if err := s.CheckOwner(b); !errors.As(err, &oe) || oe.Owner.PlanFile != a || oe.PlanFile != b || oe.Dir != dir {
		t.Errorf("other plan file: %v", err)
	}
	if err := s.Claim("x", b); !errors.Is(err, checkpoint.ErrOtherPlan) {
		t.Errorf("Claim by another plan file: %v", err)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim("x", b); err != nil {
		t.Errorf("owner's file gone (moved): %v", err)
	}
	if o, err := s.Owner(); err != nil || o.PlanFile != b {
		t.Errorf("owner after the move: %+v %v", o, err)
	}
}

func TestArchive(t *testing.T) {
	s, dir := openStore(t)
	if err := s.Save(sampleState()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteUndoBlob("env.switch", "file-0", []byte("OLD=1\n")); err != nil {
		t.Fatal(err)
	}
	j, _ := s.OpenJournal("migrate_keys.to_kes", "keys")
	j.Append("k1")
	j.Close()
	if err := os.WriteFile(s.LogPath("exec.x"), []byte("output\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(checkpoint.AuditRecord{Event: "run.end"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDuration("exec.x", 3*time.Second); err != nil {
		t.Fatal(err)
	}

	dest, err := s.Archive()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dest) != filepath.Join(dir, "history") {
		t.Errorf("archived to %s, want under %s/history", dest, dir)
	}
	if _, err := s.Load(); !errors.Is(err, checkpoint.ErrNoState) {
		t.Errorf("Load after Archive: %v, want ErrNoState", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "undo", "env.switch.file-0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("undo blob still in place after Archive: %v", err)
	}
	for f, want := range map[string]string{
		"undo/env.switch.file-0":                  "OLD=1\n",
		"journals/migrate_keys.to_kes.keys.jsonl": "\"k1\"\n",
		"logs/exec.x.log":                         "output\n",
	} {
		if got := readFile(t, filepath.Join(dest, f)); got != want {
			t.Errorf("archived %s = %q, want %q", f, got, want)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(dest, "state.json")), `"run_id": "0102030405060708"`) {
		t.Error("archived state.json lost its content")
	}
	// The new run starts clean, but the audit log and durations stay.
	for _, sub := range []string{"undo", "journals", "logs"} {
		if n := names(t, filepath.Join(dir, sub)); len(n) != 0 {
			t.Errorf("%s after Archive holds %v", sub, n)
		}
	}
	if !strings.Contains(readFile(t, s.AuditPath()), "run.end") {
		t.Error("audit log moved by Archive")
	}
	if d, err := s.LoadDurations(); err != nil || d["exec.x"] != 3*time.Second {
		t.Errorf("durations after Archive: %v %v", d, err)
	}
}

func TestAuditAppendsAndDurations(t *testing.T) {
	s, _ := openStore(t)
	for _, ev := range []string{"run.start", "step.done", "run.end"} {
		if err := s.Audit(checkpoint.AuditRecord{Event: ev, Step: "exec.x"}); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, s.AuditPath())), "\n")
	if len(lines) != 3 {
		t.Fatalf("audit has %d lines, want 3", len(lines))
	}
	var rec checkpoint.AuditRecord
	if err := json.Unmarshal([]byte(lines[2]), &rec); err != nil || rec.Event != "run.end" || rec.Time.IsZero() {
		t.Errorf("last audit record %+v %v", rec, err)
	}
	if d, err := s.LoadDurations(); err != nil || len(d) != 0 {
		t.Errorf("durations of a new store: %v %v", d, err)
	}
	s.RecordDuration("a", time.Second)
	s.RecordDuration("undo:a", 2*time.Second)
	s.RecordDuration("a", 3*time.Second)
	d, err := s.LoadDurations()
	if err != nil || !reflect.DeepEqual(d, checkpoint.Durations{"a": 3 * time.Second, "undo:a": 2 * time.Second}) {
		t.Errorf("durations %v %v", d, err)
	}
}

// TestJournalCorruptMiddleLine: only the last line may be torn; an invalid
// line with records after it is refused, not skipped.
func TestJournalCorruptMiddleLine(t *testing.T) {
	s, _ := openStore(t)
	p, _ := s.JournalPath("migrate_keys.to_kes", "keys")
	if err := os.WriteFile(p, []byte("\"k1\"\n\"k2\"\n{\"key\":\"k\x00garbage\n\"k4\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.ReadJournal("migrate_keys.to_kes", "keys", func(line []byte) error {
		got = append(got, string(line))
		return nil
	})
	var ce *checkpoint.CorruptError
	if !errors.As(err, &ce) || ce.Path != p || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("corrupt middle line: %v, want a CorruptError naming line 3 of %s", err, p)
	}
	if want := []string{`"k1"`, `"k2"`}; !reflect.DeepEqual(got, want) {
		t.Errorf("records before the corrupt line: %v, want %v", got, want)
	}
}

// TestAuditTornLastLine: a record appended after a torn last line starts a
// line of its own; the fragment is kept.
func TestAuditTornLastLine(t *testing.T) {
	s, _ := openStore(t)
	if err := s.Audit(checkpoint.AuditRecord{Event: "run.start"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.AuditPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-01-01T00:00:00Z","event":"step.st`) // a full disk mid-append
	f.Close()
	if err := s.Audit(checkpoint.AuditRecord{Event: "run.end"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, s.AuditPath()), "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[1], `"event":"step.st`) {
		t.Fatalf("audit lines %q", lines)
	}
	var rec checkpoint.AuditRecord
	if err := json.Unmarshal([]byte(lines[2]), &rec); err != nil || rec.Event != "run.end" {
		t.Errorf("record after the torn line: %q %v", lines[2], err)
	}
}
