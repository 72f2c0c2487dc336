package validateobjects_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	_ "github.com/cutover/cutover/steps/drain"
	_ "github.com/cutover/cutover/steps/envstep"
	_ "github.com/cutover/cutover/steps/execstep"
	_ "github.com/cutover/cutover/steps/healthcheck"
	_ "github.com/cutover/cutover/steps/restart"
	_ "github.com/cutover/cutover/steps/validateobjects"
)

const rehearsalPlan = `cutover "rehearsal" {
  window = "10m"
}

minio "prod" {
  endpoint   = %q
  access_key = %q
  secret_key = %q
}

step "drain" "s3" {
  minio = minio.prod
}

# An exec step, not an env step: an env step that changes MINIO_KMS_*
# has MinIO's default key checked first, and would refuse this wrong key
# before the run; the rehearsal is of validate_objects catching it.
step "exec" "switch" {
  command = ["cp", %q, %q]
  rollback {
    command = ["cp", %q, %q]
  }
}

step "restart" "minio" {
  command = [%s]
}

step "health_check" "minio" {
  minio   = minio.prod
  kms_key = "my-minio-key"
  timeout = "60s"
}

step "validate_objects" "head" {
  minio   = minio.prod
  buckets = ["crypt"]
  sample  = "all"
}
`

// TestRehearsalWrongKeyRollsBack runs the rehearsal of DESIGN.md with the
// real engine: freeze MinIO, switch its env file to a wrong key of the
// same name, restart, check readiness and the key (both pass: they test a
// fresh data key), read the objects (fails), and roll back: the env file
// is restored, MinIO restarts on the old key, the checks and the reads
// pass again, and the freeze is released last.
func TestRehearsalWrongKeyRollsBack(t *testing.T) {
	oldKey, wrongKey := make([]byte, 32), make([]byte, 32)
	rand.Read(oldKey)
	rand.Read(wrongKey)
	m := testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv("my-minio-key", oldKey)})
	s3 := m.S3Client(t)
	ctx := context.Background()
	if err := s3.MakeBucket(ctx, "crypt", miniogo.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := m.MC(t, "encrypt", "set", "sse-s3", testenv.MCAlias+"/crypt"); err != nil {
		t.Fatalf("mc encrypt set: %v\n%s", err, out)
	}
	for i := range 50 {
		data := fmt.Sprintf("object %d", i)
		if _, err := s3.PutObject(ctx, "crypt", fmt.Sprintf("o-%02d", i), strings.NewReader(data), int64(len(data)), miniogo.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	envBefore, err := os.ReadFile(m.EnvFile)
	if err != nil {
		t.Fatal(err)
	}

	argv := make([]string, 0, 8)
	for _, a := range m.RestartCommand() {
		argv = append(argv, fmt.Sprintf("%q", a))
	}
	dir := t.TempDir()
	wrongEnv, origEnv := filepath.Join(dir, "wrong.env"), filepath.Join(dir, "orig.env")
	wrong := strings.Replace(string(envBefore), "my-minio-key:"+base64.StdEncoding.EncodeToString(oldKey),
		"my-minio-key:"+base64.StdEncoding.EncodeToString(wrongKey), 1)
	if wrong == string(envBefore) {
		t.Fatal("MinIO's env file does not hold the static key")
	}
	for f, data := range map[string]string{wrongEnv: wrong, origEnv: string(envBefore)} {
		if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := fmt.Sprintf(rehearsalPlan, m.Endpoint, m.AccessKey, m.SecretKey, wrongEnv, m.EnvFile, origEnv, m.EnvFile,
		strings.Join(argv, ", "))
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, diags := plan.Load(path, plan.Options{Environ: []string{}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plans, err := engine.DryRun(ctx, p, engine.Options{Events: &event.Recorder{}})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	for _, sp := range plans {
		for _, a := range sp.Actions {
			t.Logf("plan %s: %s %q", sp.Step.ID, a.Summary, a.Details)
		}
	}
	if _, err := s3.ListBuckets(ctx); err != nil {
		t.Fatalf("the dry run left MinIO unusable: %v", err)
	}
	store, err := checkpoint.Open(filepath.Join(dir, ".cutover", p.Name))
	if err != nil {
		t.Fatal(err)
	}
	events := &event.Recorder{}
	r := engine.Run(ctx, p, engine.Options{Store: store, Events: events})

	if r.Outcome != engine.RolledBack || r.Err == nil || !strings.Contains(r.Err.Error(), "listing crypt/ failed at its start: kms:InvalidCiphertextException") {
		t.Fatalf("run: outcome %v, error %v; want rolled back by validate_objects", r.Outcome, r.Err)
	}
	var actions []string
	for _, a := range r.State.Rollback.Actions {
		actions = append(actions, fmt.Sprintf("%d %s %s %s", a.Phase, a.Op, a.Step, a.Status))
	}
	want := []string{"1 undo exec.switch done", "2 redo restart.minio done", "2 redo health_check.minio done",
		"2 redo validate_objects.head done", "3 release drain.s3 done"}
	if strings.Join(actions, "\n") != strings.Join(want, "\n") {
		t.Errorf("rollback actions:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	if envAfter, _ := os.ReadFile(m.EnvFile); !bytes.Equal(envAfter, envBefore) {
		t.Errorf("env file not restored:\n%s", envAfter)
	}
	for _, e := range events.Events {
		if strings.Contains(e.Message, base64.StdEncoding.EncodeToString(wrongKey)) {
			t.Errorf("an event shows the new key: %+v", e)
		}
	}
	obj, err := s3.GetObject(ctx, "crypt", "o-07", miniogo.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(obj); err != nil || buf.String() != "object 7" {
		t.Errorf("after the rollback, crypt/o-07 = %q, %v", buf.String(), err)
	}
	t.Logf("validate_objects outputs in phase 2: %v", r.State.Step("validate_objects.head").Outputs)
}
