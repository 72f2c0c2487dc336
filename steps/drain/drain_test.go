package drain

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"github.com/cutover/cutover/internal/testing/steptest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/minio"
	_ "github.com/cutover/cutover/steps/resume" // resume refers to drains
)

func TestDecodeMinIOMode(t *testing.T) {
	p, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+`step "drain" "s3" {
  minio = minio.prod
}
step "resume" "s3" {
  drain = step.drain.s3
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, ok := p.Steps[0].Impl.(*FreezeStep)
	if !ok || s.MinIO == nil || s.MinIO.Describe() != "minio.prod at http://127.0.0.1:9000" {
		t.Fatalf("impl = %#v", p.Steps[0].Impl)
	}
	if got := s.DescribeRelease(); !strings.Contains(got, "unfreeze minio.prod at http://127.0.0.1:9000") {
		t.Errorf("DescribeRelease() = %q", got)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, body, summary, detail string
		line                        int
	}{
		{"both modes", "minio = minio.prod\n  pause_url = \"http://x/p\"", "Conflicting drain modes", "remove pause_url or minio", 9},
		{"minio and headers", "minio = minio.prod\n  headers = {a = \"b\"}", "Conflicting drain modes", "remove headers or minio", 9},
		{"neither", `poll_interval = "1s"`, "Missing drain target", "either minio = minio.<name>", 7},
		{"empty", ``, "Missing drain target", "or pause_url and resume_url", 7},
		{"no resume_url", `pause_url = "http://x/p"`, "Missing required argument", "resume_url is missing", 7},
		{"not a minio", `minio = "prod"`, "Invalid reference", "must refer to a minio block", 8},
		{"undeclared", `minio = minio.nope`, "Reference to undeclared minio", "minio.nope", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+"step \"drain\" \"d\" {\n  "+tc.body+"\n}\n")
			hcltest.WantDiagDetail(t, diags, tc.summary, tc.detail, tc.line)
		})
	}
}

// The HTTP mode is unchanged: pause, poll the in-flight count to zero,
// resume on release.
func TestHTTPMode(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	inflight := 2
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/inflight" {
			json.NewEncoder(w).Encode(map[string]int{"inflight": inflight})
			if inflight > 0 {
				inflight--
			}
		}
	}))
	defer srv.Close()
	p, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+`step "drain" "http" {
  pause_url     = "`+srv.URL+`/pause"
  resume_url    = "`+srv.URL+`/resume"
  inflight_url  = "`+srv.URL+`/inflight"
  poll_interval = "10ms"
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := p.Steps[0].Impl.(*Step)
	ctx := context.Background()
	rt := steptest.NewRuntime("drain.test")
	must(t, "apply", s.Apply(ctx, rt))
	must(t, "release", s.Release(ctx, rt))
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(calls, ","); got != "POST /pause,GET /inflight,GET /inflight,GET /inflight,POST /resume" {
		t.Errorf("calls = %s", got)
	}
	if rt.Outputs["drained"] != "2" {
		t.Errorf("outputs = %v", rt.Outputs)
	}
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// startMinIO runs a MinIO with a static key and returns a freeze drain of it.
func startMinIO(t *testing.T) (*testenv.MinIOServer, *FreezeStep) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	m := testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv("my-minio-key", key)})
	cfg := &minio.Config{Name: "minio.test", Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey}
	return m, &FreezeStep{MinIO: cfg}
}

func frozen(t *testing.T, s *FreezeStep) bool {
	t.Helper()
	f, err := s.MinIO.Frozen(context.Background(), minio.FrozenWait)
	must(t, "probe", err)
	return f
}

// Apply freezes (and records its compensation first), Release thaws; a
// re-run Apply nests a second freeze and Release still thaws; Undo of a
// drain that never froze is a harmless no-op.
func TestFreezeStep(t *testing.T) {
	_, s := startMinIO(t)
	ctx := context.Background()
	must(t, "undo before any freeze", s.Undo(ctx, steptest.NewRuntime("drain.test")))

	actions, err := s.Plan(ctx, steptest.NewRuntime("drain.test"))
	must(t, "plan", err)
	if len(actions) != 2 || !strings.Contains(actions[0].Summary, "freeze S3 traffic on minio.test") ||
		!strings.Contains(strings.Join(actions[0].Details, "\n"), "now: 1/1 node(s) online") || actions[0].Warning {
		t.Errorf("plan = %+v", actions)
	}
	if frozen(t, s) {
		t.Fatal("Plan froze the deployment")
	}

	rt := steptest.NewRuntime("drain.test")
	must(t, "apply", s.Apply(ctx, rt))
	if !frozen(t, s) || rt.Undo == nil || !strings.Contains(rt.Summary, "froze S3 traffic") {
		t.Fatalf("after Apply: frozen %v, undo %s, summary %q", frozen(t, s), rt.Undo, rt.Summary)
	}
	actions, err = s.Plan(ctx, steptest.NewRuntime("drain.test"))
	must(t, "plan while frozen", err)
	if !actions[0].Warning || !strings.Contains(strings.Join(actions[0].Details, "\n"), "frozen now") {
		t.Errorf("plan of a frozen deployment = %+v", actions[0])
	}

	must(t, "re-run apply", s.Apply(ctx, rt))
	must(t, "release", s.Release(ctx, rt))
	if frozen(t, s) {
		t.Fatal("still frozen after Release")
	}
	if last := rt.Logs[len(rt.Logs)-1]; !strings.Contains(last, "after 2 unfreeze(s)") {
		t.Errorf("release log = %q", last)
	}
	must(t, "release again", s.Undo(ctx, rt))
}

// A restart of MinIO ends the freeze; Release afterwards still succeeds.
func TestFreezeEndsAtRestart(t *testing.T) {
	m, s := startMinIO(t)
	ctx := context.Background()
	must(t, "apply", s.Apply(ctx, steptest.NewRuntime("drain.test")))
	m.Restart(t)
	if frozen(t, s) {
		t.Error("still frozen after a restart")
	}
	must(t, "release", s.Release(ctx, steptest.NewRuntime("drain.test")))
}

func TestFreezeUnreachable(t *testing.T) {
	s := &FreezeStep{MinIO: &minio.Config{Name: "minio.gone", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := s.Plan(ctx, steptest.NewRuntime("drain.test")); err == nil || !strings.Contains(err.Error(), "preflight minio.gone") {
		t.Errorf("plan = %v", err)
	}
	if err := s.Apply(ctx, steptest.NewRuntime("drain.test")); err == nil || !strings.Contains(err.Error(), "freeze minio.gone") {
		t.Errorf("apply = %v", err)
	}
}
