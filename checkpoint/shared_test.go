package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/testing/testenv"
)

// sharedRig is one MinIO server with a bucket for the shared-state tests.
type sharedRig struct {
	t      *testing.T
	m      *testenv.MinIOServer
	bucket string
}

func newSharedRig(t *testing.T) *sharedRig {
	m := testenv.MinIO(t, testenv.MinIOOptions{})
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	r := &sharedRig{t: t, m: m, bucket: "cutover-state"}
	if err := m.S3Client(t).MakeBucket(context.Background(), r.bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// store opens a state directory of its own mirrored to prefix/plan.
func (r *sharedRig) store(prefix string, crypt *checkpoint.Crypt, timeout time.Duration) *checkpoint.Store {
	r.t.Helper()
	b, err := checkpoint.NewS3(checkpoint.S3Config{Bucket: r.bucket, Prefix: prefix, Endpoint: r.m.Endpoint}, "plan")
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := checkpoint.Open(r.t.TempDir())
	if err != nil {
		r.t.Fatal(err)
	}
	s.Use(checkpoint.Options{Remote: &checkpoint.Remote{Backend: b, Timeout: timeout}, Crypt: crypt})
	return s
}

// objects returns every object of the bucket under prefix by key.
func (r *sharedRig) objects(prefix string) map[string][]byte {
	r.t.Helper()
	c := r.m.S3Client(r.t)
	out := map[string][]byte{}
	ctx := context.Background()
	for o := range c.ListObjects(ctx, r.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			r.t.Fatal(o.Err)
		}
		obj, err := c.GetObject(ctx, r.bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			r.t.Fatal(err)
		}
		data, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			r.t.Fatal(err)
		}
		out[o.Key] = data
	}
	return out
}

// signal sends sig to the MinIO process (SIGSTOP freezes it: every call
// to it times out, as to a server that went away; SIGCONT brings it back).
func (r *sharedRig) signal(sig syscall.Signal) {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.m.SupervisorDir, "child.pid"))
	if err != nil {
		r.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		r.t.Fatal(err)
	}
}

func newState(steps ...string) *checkpoint.State {
	st := &checkpoint.State{Plan: "plan", RunID: "run1", Phase: checkpoint.PhaseRunning, StartedAt: time.Now().UTC()}
	for _, s := range steps {
		st.Steps = append(st.Steps, checkpoint.StepState{ID: s, Status: checkpoint.StatusPending})
	}
	return st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSharedState(t *testing.T) {
	r := newSharedRig(t)
	t.Run("LockRace", func(t *testing.T) { r.t = t; testLockRace(r) })
	t.Run("StaleWriter", func(t *testing.T) { r.t = t; testStaleWriter(r) })
	t.Run("Encryption", func(t *testing.T) { r.t = t; testEncryption(r) })
	t.Run("StoreOutage", func(t *testing.T) { r.t = t; testStoreOutage(r) })
	t.Run("WaitForStore", func(t *testing.T) { r.t = t; testWaitForStore(r) })
	t.Run("PullWhileWriting", func(t *testing.T) { r.t = t; testPullWhileWriting(r) })
}

// attempts wraps the real S3 backend and reports each Put's start, so the
// test knows when a write has failed once and is waiting.
type attempts struct {
	checkpoint.Backend
	puts chan string
}

func (a *attempts) Put(ctx context.Context, key string, data []byte, cond checkpoint.Cond) (string, error) {
	select {
	case a.puts <- key:
	default:
	}
	return a.Backend.Put(ctx, key, data, cond)
}

// testWaitForStore: under on_unavailable = "wait" a write retries while
// the store is away and succeeds once it is back: no error, no pending
// local copy, the record in the store.
func testWaitForStore(r *sharedRig) {
	t := r.t
	b, err := checkpoint.NewS3(checkpoint.S3Config{Bucket: r.bucket, Prefix: "wait", Endpoint: r.m.Endpoint}, "plan")
	must(t, err)
	wrapped := &attempts{Backend: b, puts: make(chan string, 1)}
	s, err := checkpoint.Open(t.TempDir())
	must(t, err)
	s.Use(checkpoint.Options{Remote: &checkpoint.Remote{Backend: wrapped, Timeout: 500 * time.Millisecond,
		OnUnavailable: checkpoint.OnUnavailableWait, WaitTimeout: 2 * time.Minute}})
	l := checkpoint.NewLockInfo("run", "plan")
	must(t, s.Lock(l))
	st := newState("exec.a")
	must(t, s.Save(st))
	r.signal(syscall.SIGSTOP)
	for len(wrapped.puts) > 0 {
		<-wrapped.puts
	}
	done := make(chan error, 1)
	st.Steps[0].Status = checkpoint.StatusDone
	go func() { done <- s.SaveStep(st, "exec.a") }()
	<-wrapped.puts // first attempt, against the frozen store
	<-wrapped.puts // a second one: the first failed and the write waits
	r.signal(syscall.SIGCONT)
	must(t, <-done)
	if s.Pending() {
		t.Fatal("a pending local copy after the store came back")
	}
	other := r.store("wait", nil, 0)
	must(t, other.Pull())
	got, err := other.Load()
	must(t, err)
	if got.Steps[0].Status != checkpoint.StatusDone {
		t.Fatalf("store holds %s after the wait", got.Steps[0].Status)
	}
	must(t, s.Unlock(l.ID))
}

// testLockRace: two stores (two working directories, two clients) take the
// same plan's lock at once, 100 times: exactly one wins each time, and the
// loser's error names the winner.
func testLockRace(r *sharedRig) {
	t := r.t
	a, b := r.store("race", nil, 0), r.store("race", nil, 0)
	for i := 0; i < 100; i++ {
		infos := []checkpoint.LockInfo{checkpoint.NewLockInfo("run", "plan"), checkpoint.NewLockInfo("run", "plan")}
		errs := make([]error, 2)
		var start, done sync.WaitGroup
		start.Add(1)
		for j, s := range []*checkpoint.Store{a, b} {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				errs[j] = s.Lock(infos[j])
			}()
		}
		start.Done()
		done.Wait()
		won := -1
		for j, err := range errs {
			var le *checkpoint.LockedError
			switch {
			case err == nil && won < 0:
				won = j
			case err == nil:
				t.Fatalf("round %d: both took the lock", i)
			case !errors.As(err, &le):
				t.Fatalf("round %d: %v", i, err)
			case le.Holder.ID != infos[1-j].ID || le.Holder.PID != os.Getpid():
				t.Fatalf("round %d: the loser was told holder %+v, the winner is %+v", i, le.Holder, infos[1-j])
			}
		}
		if won < 0 {
			t.Fatalf("round %d: nobody took the lock: %v", i, errs)
		}
		must(t, []*checkpoint.Store{a, b}[won].Unlock(infos[won].ID))
	}
}

// testStaleWriter: a writer whose view of state.json is older than the
// store's is refused, and the store keeps the newer state.
func testStaleWriter(r *sharedRig) {
	t := r.t
	a, b := r.store("stale", nil, 0), r.store("stale", nil, 0)
	la := checkpoint.NewLockInfo("run", "plan")
	must(t, a.Lock(la))
	st := newState("exec.a", "exec.b")
	must(t, a.Save(st))
	must(t, a.Unlock(la.ID)) // a keeps its store handle: now a stale writer

	lb := checkpoint.NewLockInfo("run", "plan")
	must(t, b.Lock(lb))
	stb, err := b.Load()
	must(t, err)
	stb.Steps[0].Status = checkpoint.StatusDone
	must(t, b.Save(stb))
	before := r.objects("stale/")

	st.Steps[1].Status = checkpoint.StatusDone
	err = a.Save(st)
	if !errors.Is(err, checkpoint.ErrStaleWriter) || !strings.Contains(err.Error(), "refused, nothing was overwritten") {
		t.Fatalf("stale Save: %v", err)
	}
	if err := a.SaveStep(st, "exec.b"); !errors.Is(err, checkpoint.ErrStaleWriter) {
		t.Fatalf("stale SaveStep after a refused Save: %v", err)
	}
	after := r.objects("stale/")
	if !bytes.Equal(before["stale/plan/state.json"], after["stale/plan/state.json"]) || len(before) != len(after) {
		t.Fatalf("the stale writer changed the store:\nbefore %q\nafter  %q", before["stale/plan/state.json"], after["stale/plan/state.json"])
	}
	must(t, b.Unlock(lb.ID))
}

// testEncryption: undo data and the inputs key leave the machine
// encrypted; no object holds the secret; the undo object opens only with
// a listed identity; status (Pull, Load) needs none, reading undo data does.
func testEncryption(r *sharedRig) {
	t := r.t
	listed, err := age.GenerateX25519Identity()
	must(t, err)
	other, err := age.GenerateX25519Identity()
	must(t, err)
	secretBytes := []byte("DB_PASSWORD=s3cr3t-Value-9f8e7d\n")
	a := r.store("enc", &checkpoint.Crypt{Recipients: []age.Recipient{listed.Recipient()}}, 0)
	la := checkpoint.NewLockInfo("run", "plan")
	must(t, a.Lock(la))
	st := newState("env.switch")
	must(t, a.Save(st))
	digest, err := a.WriteUndoBlob("env.switch", "orig", secretBytes)
	must(t, err)
	st.Steps[0].Blobs = map[string]string{"orig": digest}
	st.Steps[0].Status = checkpoint.StatusDone
	must(t, a.Save(st))
	key, err := a.InputsKey()
	must(t, err)
	must(t, a.Audit(checkpoint.AuditRecord{Event: "step.done", Step: "env.switch"}))
	must(t, a.Unlock(la.ID))

	objs := r.objects("enc/")
	undo := objs["enc/plan/undo/env.switch.orig"]
	if undo == nil || objs["enc/plan/inputs.key"] == nil {
		t.Fatalf("undo blob or inputs key not in the store: %v", keys(objs))
	}
	for k, data := range objs {
		if bytes.Contains(data, []byte("s3cr3t-Value")) || bytes.Contains(data, key) {
			t.Errorf("object %s holds a secret", k)
		}
	}
	if _, err := age.Decrypt(bytes.NewReader(undo), other); err == nil {
		t.Fatal("an identity the plan does not list opened the undo object")
	}
	rd, err := age.Decrypt(bytes.NewReader(undo), listed)
	must(t, err)
	plain, err := io.ReadAll(rd)
	must(t, err)
	if !bytes.Equal(plain, secretBytes) {
		t.Fatalf("decrypted undo object = %q", plain)
	}

	status := r.store("enc", nil, 0) // another machine, no identity
	must(t, status.Pull())
	got, err := status.Load()
	must(t, err)
	if got.Steps[0].Status != checkpoint.StatusDone {
		t.Fatalf("pulled state: %+v", got.Steps)
	}
	if _, err := status.ReadUndoBlob("env.switch", "orig", digest); !errors.Is(err, checkpoint.ErrNoIdentity) || !strings.Contains(err.Error(), "--identity") {
		t.Fatalf("undo data read without an identity: %v", err)
	}
	wrong := r.store("enc", &checkpoint.Crypt{Identities: []age.Identity{other}}, 0)
	must(t, wrong.Pull())
	if _, err := wrong.ReadUndoBlob("env.switch", "orig", digest); !errors.Is(err, checkpoint.ErrWrongIdentity) {
		t.Fatalf("undo data read with an unlisted identity: %v", err)
	}
	b := r.store("enc", &checkpoint.Crypt{Identities: []age.Identity{listed}}, 0)
	lb := checkpoint.NewLockInfo("rollback", "plan")
	must(t, b.Lock(lb))
	_, err = b.Load()
	must(t, err)
	data, err := b.ReadUndoBlob("env.switch", "orig", digest)
	must(t, err)
	if !bytes.Equal(data, secretBytes) {
		t.Fatalf("undo blob read back = %q", data)
	}
	must(t, b.Unlock(lb.ID))
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// testStoreOutage: the store stops answering mid-run. The first failed
// write is returned; later writes reach the local copy only; once the
// store answers again, the next Lock here pushes the local copy (taking
// back the lock it could not release), and a second machine reads the same
// state, journal and audit log, with no segment duplicated.
func testStoreOutage(r *sharedRig) {
	t := r.t
	a := r.store("outage", nil, time.Second)
	la := checkpoint.NewLockInfo("run", "plan")
	must(t, a.Lock(la))
	st := newState("migrate_keys.m", "exec.b")
	must(t, a.Save(st))
	j, err := a.OpenJournal("migrate_keys.m", "copied")
	must(t, err)
	for i := 0; i < 3; i++ {
		must(t, j.Append(map[string]int{"key": i}))
	}
	must(t, j.Sync())
	st.Steps[0].Status = checkpoint.StatusStarted
	must(t, a.SaveStep(st, "migrate_keys.m"))

	r.signal(syscall.SIGSTOP)
	thawed := false
	defer func() {
		if !thawed {
			r.signal(syscall.SIGCONT)
		}
	}()
	for i := 3; i < 6; i++ {
		must(t, j.Append(map[string]int{"key": i}))
	}
	if err := j.Sync(); !errors.Is(err, checkpoint.ErrStoreUnavailable) {
		t.Fatalf("journal sync with the store away: %v", err)
	}
	must(t, j.Close()) // later writes: the local copy only
	st.Steps[0].Status = checkpoint.StatusDone
	must(t, a.SaveStep(st, "migrate_keys.m"))
	must(t, a.Audit(checkpoint.AuditRecord{Event: "step.done", Step: "migrate_keys.m"}))
	st.Phase = checkpoint.PhaseStopped
	must(t, a.Save(st))
	if !a.Pending() {
		t.Fatal("no pending marker after the store went away")
	}
	r.signal(syscall.SIGCONT)
	thawed = true

	other := r.store("outage", nil, 0)
	if err := other.Lock(checkpoint.NewLockInfo("run", "plan")); !errors.Is(err, checkpoint.ErrLocked) {
		t.Fatalf("a second machine took the lock the outage left: %v", err)
	}
	again := checkpoint.NewLockInfo("run", "plan")
	must(t, a.Lock(again)) // pushes the local copy
	if a.Pending() {
		t.Fatal("pending marker left after the push")
	}
	want, err := a.Load()
	must(t, err)
	must(t, a.Unlock(again.ID))

	b := r.store("outage", nil, 0)
	lb := checkpoint.NewLockInfo("status", "plan")
	must(t, b.Lock(lb))
	got, err := b.Load()
	must(t, err)
	if got.Phase != checkpoint.PhaseStopped || got.Steps[0].Status != checkpoint.StatusDone || got.Serial != want.Serial {
		t.Fatalf("second machine reads phase %s, step %s, serial %d; want stopped, done, %d", got.Phase, got.Steps[0].Status, got.Serial, want.Serial)
	}
	var lines []string
	must(t, b.ReadJournal("migrate_keys.m", "copied", func(l []byte) error { lines = append(lines, string(l)); return nil }))
	if len(lines) != 6 || lines[5] != `{"key":5}` {
		t.Fatalf("journal replayed on the second machine: %q", lines)
	}
	for _, f := range []string{"audit.jsonl", "journals/migrate_keys.m.copied.jsonl"} {
		wa, err := os.ReadFile(filepath.Join(a.Dir(), f))
		must(t, err)
		wb, err := os.ReadFile(filepath.Join(b.Dir(), f))
		must(t, err)
		if !bytes.Equal(wa, wb) {
			t.Errorf("%s differs between the machines:\n%s\n---\n%s", f, wa, wb)
		}
	}
	total := 0
	for k, v := range r.objects("outage/plan/journals/") {
		_ = k
		total += len(v)
	}
	if local, _ := os.ReadFile(filepath.Join(a.Dir(), "journals/migrate_keys.m.copied.jsonl")); total != len(local) {
		t.Errorf("journal segments hold %d bytes, the journal %d: a segment is duplicated or missing", total, len(local))
	}
	must(t, b.Unlock(lb.ID))
	_ = fmt.Sprint()
}

// vanishing lists, the first time, one object more than the store holds:
// what a reader sees when the lock holder deletes an object between the
// listing and its read.
type vanishing struct {
	checkpoint.Backend
	lists int
}

func (v *vanishing) List(ctx context.Context, prefix string) ([]checkpoint.Object, error) {
	objs, err := v.Backend.List(ctx, prefix)
	v.lists++
	if err == nil && v.lists == 1 {
		objs = append([]checkpoint.Object{{Key: "audit/000000000000"}}, objs...)
	}
	return objs, err
}

// testPullWhileWriting: a lock-free Pull (status, the check before a run
// takes the lock) that finds a listed object gone reads the store again
// instead of failing; the copy it makes is the store's checkpoint.
func testPullWhileWriting(r *sharedRig) {
	t := r.t
	w := r.store("vanish", nil, 5*time.Second)
	must(t, w.Lock(checkpoint.NewLockInfo("run", "plan")))
	st := newState("exec.a")
	must(t, w.Save(st))
	b, err := checkpoint.NewS3(checkpoint.S3Config{Bucket: r.bucket, Prefix: "vanish", Endpoint: r.m.Endpoint}, "plan")
	must(t, err)
	v := &vanishing{Backend: b}
	rd, err := checkpoint.Open(t.TempDir())
	must(t, err)
	rd.Use(checkpoint.Options{Remote: &checkpoint.Remote{Backend: v, Timeout: 5 * time.Second}})
	if err := rd.Pull(); err != nil {
		t.Fatalf("Pull with an object gone between list and read: %v", err)
	}
	if v.lists != 2 {
		t.Errorf("listed %d times, want 2 (the second read after the vanished object)", v.lists)
	}
	got, err := rd.Load()
	must(t, err)
	if got.RunID != st.RunID || len(got.Steps) != 1 {
		t.Errorf("pulled state: run %q, %d steps; want run %q", got.RunID, len(got.Steps), st.RunID)
	}
}
