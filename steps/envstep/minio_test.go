package envstep_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/cli"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
)

// switchRig is MinIO on its static key and an empty KES (fs keystore).
type switchRig struct {
	minio *testenv.MinIOServer
	kes   *testenv.KESServer
	store *kes.Store
	key   []byte
	env   []byte // MinIO's env file before any run
}

func newSwitchRig(t *testing.T) *switchRig {
	r := &switchRig{key: make([]byte, 32)}
	rand.Read(r.key)
	r.kes = testenv.KES(t, testenv.KESOptions{})
	r.minio = testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv("minio-key", r.key)})
	var err error
	if r.store, err = kes.New(kes.Config{Name: "kms.kes", Endpoint: r.kes.Endpoint, APIKey: r.kes.APIKey, CAFile: r.kes.CAFile}); err != nil {
		t.Fatal(err)
	}
	if r.env, err = os.ReadFile(r.minio.EnvFile); err != nil {
		t.Fatal(err)
	}
	return r
}

// plan is a switch of MinIO from its static key to KES with default key
// keyName; migrate adds a migrate_keys step of the static key into KES
// before the freeze, and extra steps go after the health check. It has
// no key check step.
func (r *switchRig) plan(keyName string, migrate bool, extra string) string {
	m := ""
	if migrate {
		m = `step "migrate_keys" "to_kes" {
  from                       = kms.static
  to                         = kms.kes
  delete_created_on_rollback = true
}
`
	}
	return fmt.Sprintf(`cutover "switch" {}
variable "kes_api_key" {
  sensitive = true
}
variable "minio_secret_key" {
  sensitive = true
}
minio "prod" {
  endpoint   = %q
  access_key = %q
  secret_key = var.minio_secret_key
}
kms "static" {
  type     = "minio_static"
  env_file = %q
}
kms "kes" {
  type     = "kes"
  endpoint = %q
  api_key  = var.kes_api_key
  ca_file  = %q
}
%s
step "drain" "s3" {
  minio = minio.prod
}
step "env" "kms" {
  minio = minio.prod
  files = [%q]
  set = {
    MINIO_KMS_KES_ENDPOINT = %q
    MINIO_KMS_KES_KEY_NAME = %q
    MINIO_KMS_KES_API_KEY  = var.kes_api_key
    MINIO_KMS_KES_CAPATH   = %q
  }
  unset = ["MINIO_KMS_SECRET_KEY"]
}
step "restart" "minio" {
  command = %s
}
step "health_check" "ready" {
  minio   = minio.prod
  timeout = "1m"
}
%s
step "resume" "s3" {
  drain = step.drain.s3
}
`, r.minio.Endpoint, r.minio.AccessKey, r.minio.EnvFile, r.kes.Endpoint, r.kes.CAFile, m, r.minio.EnvFile,
		r.kes.Endpoint, keyName, r.kes.CAFile, hclList(r.minio.RestartCommand()), extra)
}

func (r *switchRig) vars() []string {
	return []string{"kes_api_key=" + r.kes.APIKey, "minio_secret_key=" + r.minio.SecretKey}
}

func hclList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// unchanged fails t unless MinIO's env file is as it was and KES holds
// no key of that name.
func (r *switchRig) unchanged(t *testing.T, key string) {
	t.Helper()
	if got, _ := os.ReadFile(r.minio.EnvFile); !bytes.Equal(got, r.env) {
		t.Error("MinIO's env file changed")
	}
	if _, err := r.store.Describe(context.Background(), key); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("KES holds %s (%v)", key, err)
	}
}

// TestSwitchToKeyKESLacks: the env switch names a key the target KES lacks
// and the plan has no key check step: `cutover plan` exits 1 naming the
// key and the KES, and `run` is refused by its preflight, before the
// freeze, with nothing changed. The same plan with the key migrated plans
// and runs to completion, and MinIO reads through KES.
func TestSwitchToKeyKESLacks(t *testing.T) {
	r := newSwitchRig(t)
	ctx := context.Background()
	dir := t.TempDir()
	src := r.plan("minio-key", false, "")
	if err := os.WriteFile(dir+"/plan.hcl", []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"cutover", "plan", "-var", r.vars()[0], "-var", r.vars()[1], dir + "/plan.hcl"}
	code := cli.Main(args, strings.NewReader(""), &out, &errOut)
	want := fmt.Sprintf(`MinIO's default key "minio-key" does not exist at kes at %s`, r.kes.Endpoint)
	if code != cli.ExitFailed || !strings.Contains(out.String()+errOut.String(), want) {
		t.Fatalf("cutover plan exited %d, want %d naming the key and the KES:\n%s\n%s", code, cli.ExitFailed, out.String(), errOut.String())
	}
	h := plantest.Load(t, t.TempDir(), src, plan.Options{Vars: r.vars()})
	res := h.Run(ctx)
	if res.Outcome != engine.Failed || !errors.Is(res.Err, engine.ErrPreflight) || !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("run: %s (%v), want refused by the preflight naming the key", res.Outcome, res.Err)
	}
	if st, err := h.Store.Load(); err == nil {
		t.Fatalf("a refused run wrote a checkpoint: %s", st.Phase)
	}
	r.unchanged(t, "minio-key")

	h = plantest.Load(t, t.TempDir(), r.plan("minio-key", true, ""), plan.Options{Vars: r.vars()})
	plans, err := h.DryRun(ctx)
	if err != nil {
		t.Fatalf("the plan with the key migrated: %v", err)
	}
	found := false
	for _, a := range plans[2].Actions {
		found = found || strings.Contains(a.Summary, "will copy it there") && strings.Contains(a.Summary, "is the key MinIO's objects were sealed with")
	}
	if !found {
		t.Errorf("env.kms's plan does not say the key will be copied and is the static key: %+v", plans[2].Actions)
	}
	h.MustComplete(ctx)
	if _, err := r.store.Describe(ctx, "minio-key"); err != nil {
		t.Errorf("after the cutover KES lacks the key: %v", err)
	}
}

// TestRollbackReportsKeyMinIOCreated: KES held MinIO's default key when
// the env step checked it and noted KES's keys (imported by hand, or by
// the plan's migrate_keys); then the key vanished (an operator, a
// keystore) before the restart, so MinIO created a new one of that name
// at startup. A later step fails; the rollback restores MinIO and its last
// phase reports the key MinIO created, with the command that removes it,
// and leaves it in place: cutover did not create it. With migrate_keys and
// delete_created_on_rollback, the key of that name is not the one the
// migration created any more, and it is not deleted either.
func TestRollbackReportsKeyMinIOCreated(t *testing.T) {
	for _, migrate := range []bool{false, true} {
		t.Run(fmt.Sprintf("migrate=%v", migrate), func(t *testing.T) {
			r := newSwitchRig(t)
			ctx := context.Background()
			if !migrate {
				if err := r.kes.ImportKey("minio-key", r.key); err != nil {
					t.Fatal(err)
				}
			}
			h := plantest.Load(t, t.TempDir(), r.plan("minio-key", migrate, `step "exec" "app_check" {
  command = ["false"]
}
`), plan.Options{Vars: r.vars()})
			res := engine.Run(ctx, h.Plan, engine.Options{Store: h.Store, Events: event.SinkFunc(func(e event.Event) {
				if e.Type == event.StepDone && e.Step == "env.kms" {
					if err := r.store.Delete(ctx, "minio-key"); err != nil {
						t.Errorf("removing the key behind cutover's back: %v", err)
					}
				}
			})})
			if res.Outcome != engine.RolledBack {
				t.Fatalf("run: %s (%v), want rolled back", res.Outcome, res.Err)
			}
			summaries := map[string]string{}
			for _, a := range res.State.Rollback.Actions {
				if a.Op == "cleanup" {
					summaries[a.Step] = a.Summary
					t.Logf("%s cleanup: %s", a.Step, a.Summary)
				}
			}
			for _, w := range []string{"MinIO created minio-key at kes at " + r.kes.Endpoint, "kes key rm minio-key", "KES_SERVER=" + r.kes.Endpoint} {
				if !strings.Contains(summaries["env.kms"], w) {
					t.Errorf("the rollback's report lacks %q: %q", w, summaries["env.kms"])
				}
			}
			if migrate && !strings.Contains(summaries["migrate_keys.to_kes"], "deleted 0 keys") {
				t.Errorf("migrate_keys's cleanup: %q, want nothing deleted", summaries["migrate_keys.to_kes"])
			}
			if strings.Contains(fmt.Sprint(summaries), r.kes.APIKey) {
				t.Error("the report shows the API key")
			}
			if _, err := r.store.Describe(ctx, "minio-key"); err != nil {
				t.Errorf("the key MinIO created is gone (%v): cutover must not delete a key it did not create", err)
			}
			if got, _ := os.ReadFile(r.minio.EnvFile); !bytes.Equal(got, r.env) {
				t.Error("MinIO's env file was not restored")
			}
		})
	}
}
