package healthcheck

import (
	"context"
	"crypto/rand"
	"github.com/cutover/cutover/internal/testing/steptest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/testing/hcltest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/minio"
)

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestDecodeMinIOMode(t *testing.T) {
	p, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+`step "health_check" "minio" {
  minio    = minio.prod
  kms_key  = "my-minio-key"
  interval = "200ms"
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := p.Steps[0].Impl.(*Step)
	if s.minio == nil || s.KMSKey != "my-minio-key" || s.interval != 200*time.Millisecond {
		t.Fatalf("step = %+v", s)
	}
	if d := s.describe(); !strings.Contains(d, "minio.prod at http://127.0.0.1:9000: GET /minio/health/ready") ||
		!strings.Contains(d, `KMS key "my-minio-key"`) || !strings.Contains(d, "not proof that existing objects decrypt") {
		t.Errorf("describe() = %q", d)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, body, summary, detail string
		line                        int
	}{
		{"both modes", "minio = minio.prod\n  url = \"http://x/health\"", "Conflicting health check modes", "remove url or minio", 9},
		{"minio and expect_status", "minio = minio.prod\n  expect_status = 204", "Conflicting health check modes", "remove expect_status or minio", 9},
		{"neither", `interval = "1s"`, "Missing health check target", "either url", 7},
		{"kms_key with url", "url = \"http://x/health\"\n  kms_key = \"k\"", "Misplaced kms_key", "set minio = minio.<name> instead of url", 9},
		{"undeclared", `minio = minio.nope`, "Reference to undeclared minio", "minio.nope", 8},
		{"bad url", `url = "ftp://x"`, "Invalid health_check", "must start with http:// or https://", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+"step \"health_check\" \"h\" {\n  "+tc.body+"\n}\n")
			hcltest.WantDiagDetail(t, diags, tc.summary, tc.detail, tc.line)
		})
	}
}

// The url mode is unchanged.
func TestURLMode(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	p, diags := hcltest.LoadPlan(t, hcltest.MinIOPlanHeader+`step "health_check" "url" {
  url           = "`+srv.URL+`/health"
  body_contains = "ok"
  interval      = "10ms"
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	rt := steptest.NewRuntime("healthcheck.test")
	must(t, "apply", p.Steps[0].Impl.Apply(context.Background(), rt))
	if calls != 3 || !strings.HasPrefix(rt.Summary, "healthy after") {
		t.Errorf("calls %d, summary %q", calls, rt.Summary)
	}
	// each probe reports progress: the count, against the most the
	// deadline allows (the live line's time left is the time to give up)
	if len(rt.Reports) != 3 || rt.Reports[2].Done != 3 || rt.Reports[2].Unit != "probes" || rt.Reports[2].Total < 100 {
		t.Errorf("progress reports %+v, want 3 probes against the deadline's worth", rt.Reports)
	}
}

// minioStep returns a MinIO-mode health check of a running MinIO.
func minioStep(t *testing.T, kmsKey string) (*testenv.MinIOServer, *Step) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	m := testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv("my-minio-key", key)})
	cfg := &minio.Config{Name: "minio.test", Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey}
	return m, &Step{Config: Config{MinIO: hcl.StaticExpr(cfgVal, hcl.Range{}), KMSKey: kmsKey}, minio: cfg, interval: 100 * time.Millisecond}
}

func TestMinIOReady(t *testing.T) {
	_, s := minioStep(t, "my-minio-key")
	ctx := context.Background()
	actions, err := s.Plan(ctx, steptest.NewRuntime("healthcheck.test"))
	must(t, "plan", err)
	if len(actions) != 1 || actions[0].Details[0] != "now: passing" {
		t.Errorf("plan = %+v", actions)
	}
	rt := steptest.NewRuntime("healthcheck.test")
	must(t, "apply", s.Apply(ctx, rt))
	if !strings.HasPrefix(rt.Summary, "healthy after") {
		t.Errorf("summary = %q", rt.Summary)
	}
}

// A kms_key the KMS does not hold fails the check when the step times out,
// saying why.
func TestMinIOMissingKey(t *testing.T) {
	_, s := minioStep(t, "no-such-key")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.Apply(ctx, steptest.NewRuntime("healthcheck.test"))
	if err == nil || !strings.Contains(err.Error(), "minio.test at") || !strings.Contains(err.Error(), "kms key unusable: key no-such-key") {
		t.Errorf("apply = %v", err)
	}
}

// The check polls: it fails while the KMS lacks kms_key, and passes once
// MinIO restarts (through its supervisor) on a KMS that has it.
func TestMinIOPollsUntilHealthy(t *testing.T) {
	m, s := minioStep(t, "new-key")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	result := make(chan error, 1)
	failed := make(chan error, 100)
	s.probed = func(err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	rt := steptest.NewRuntime("healthcheck.test")
	go func() { result <- s.Apply(ctx, rt) }()
	// two failed probes, and the check goes on: it polls
	for range 2 {
		select {
		case err := <-failed:
			if !strings.Contains(err.Error(), "new-key") {
				t.Fatalf("a probe failed for another reason than the missing key: %v", err)
			}
		case err := <-result:
			t.Fatalf("the check ended before the key existed: %v", err)
		case <-ctx.Done():
			t.Fatal("no failed probe before the deadline")
		}
	}
	select {
	case err := <-result:
		t.Fatalf("the check ended before the key existed: %v", err)
	default:
	}
	key := make([]byte, 32)
	rand.Read(key)
	must(t, "env file", m.SetKMSEnv(testenv.StaticKeyEnv("new-key", key)))
	if out, err := runQuiet(m.RestartCommand()); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	must(t, "apply", <-result)
	t.Logf("summary: %s", rt.Summary)
}

func TestMinIOUnreachable(t *testing.T) {
	cfg := &minio.Config{Name: "minio.gone", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"}
	s := &Step{Config: Config{MinIO: hcl.StaticExpr(cfgVal, hcl.Range{})}, minio: cfg, interval: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := s.Apply(ctx, steptest.NewRuntime("healthcheck.test"))
	if err == nil || !strings.Contains(err.Error(), "minio.gone at http://127.0.0.1:1: not healthy") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("apply = %v", err)
	}
}
