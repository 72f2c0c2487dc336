// Package miniostatictokes_test runs the examples/minio-static-to-kes plans
// against real servers: Vault (KV v2, AppRole), KES on that Vault, and
// MinIO on its static key under a systemd-style supervisor, with the env
// files of three nodes (node 1's is the one MinIO reads; nodes 2 and 3 are
// copies standing for the other nodes' files, changed and checked with it).
package miniostatictokes_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/internal/cli"
	"github.com/cutover/cutover/internal/testing/keskeytest"
	ex "github.com/cutover/cutover/internal/testing/minioexamples"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
	"github.com/cutover/cutover/providers/keyops"
)

const keyName = "my-minio-key"

var buckets = []string{"photos", "ledger", "logs"}

// rig is the servers one test shares between its scenarios.
type rig struct {
	t        *testing.T
	kes      *testenv.KESServer // the KES node cutover and MinIO use
	kesDown  *testenv.KESServer // a second KES node on the same Vault, stopped
	minio    *testenv.MinIOServer
	key      []byte // MinIO's static key
	files    []string
	original [][]byte // the env files on the static key
	objs     []ex.Object
	store    *kes.Store
	vars     ex.Vars // of rehearsal-wrong-key.hcl; plan.hcl takes more
	idFile   string
	backupTo string // recipients, as an HCL list
	vault    ex.Vars
	// rehearsed is the state directory `cutover rehearse` left.
	rehearsed string
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, key: make([]byte, 32)}
	rand.Read(r.key)
	v := testenv.Vault(t)
	r.kes = testenv.KES(t, testenv.KESOptions{Vault: v})
	r.kesDown = testenv.KES(t, testenv.KESOptions{Vault: v})
	r.kesDown.Stop()
	role, secret := v.AppRole(t, "cutover-read", fmt.Sprintf(`path "%[1]s/data/%[2]s/*" { capabilities = ["read"] }
path "%[1]s/metadata/%[2]s" { capabilities = ["list"] }
`, r.kes.Engine, r.kes.Prefix))
	r.vault = ex.Vars{"vault_endpoint": v.Addr, "vault_engine": r.kes.Engine, "vault_prefix": r.kes.Prefix,
		"vault_role_id": role, "vault_secret_id": secret}
	r.minio = testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv(keyName, r.key)})
	ex.MakeBuckets(t, r.minio, buckets...)
	r.objs = ex.PutObjects(t, r.minio, "before", 300, buckets...)
	dir := t.TempDir()
	r.files = ex.NodeEnvFiles(t, r.minio, dir, 3)
	r.original = ex.Snapshot(t, r.files)
	recipient, idFile := ex.AgeIdentity(t, dir)
	r.idFile, r.backupTo = idFile, ex.HCLList(recipient)
	var err error
	r.store, err = kes.New(kes.Config{Name: "kms.kes", Endpoint: r.kes.Endpoint, APIKey: r.kes.APIKey, CAFile: r.kes.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	m, k := r.minio, r.kes
	r.vars = ex.Vars{
		"env_files": ex.HCLList(r.files...), "restart_command": ex.RestartVar(m),
		"minio_endpoint": m.Endpoint, "minio_access_key": m.AccessKey, "minio_secret_key": m.SecretKey,
		"buckets": ex.HCLList(buckets...), "kes_endpoint": k.Endpoint, "kes_api_key": k.APIKey,
		"kes_ca_file": k.CAFile, "key_name": keyName,
	}
	return r
}

// planVars are plan.hcl's variables: the rehearsal's, a backup file of
// its own, the backup recipients, and extra.
func (r *rig) planVars(extra ...string) ex.Vars {
	return r.vars.With(r.vault.Pairs()...).With("backup_file", filepath.Join(r.t.TempDir(), "minio-keys.age"),
		"backup_recipients", r.backupTo, "backup_identity_file", r.idFile).With(extra...)
}

// load loads plan.hcl with planVars(extra...).
func (r *rig) load(t *testing.T, extra ...string) *plantest.Harness {
	return ex.Load(t, "plan.hcl", r.planVars(extra...))
}

// kesHasKey reports whether KES holds the key.
func (r *rig) kesHasKey(t *testing.T) bool {
	t.Helper()
	_, err := r.store.Describe(context.Background(), keyName)
	if err != nil && !errors.Is(err, providers.ErrKeyNotFound) {
		t.Fatalf("describe %s: %v", keyName, err)
	}
	return err == nil
}

// onStaticKey checks MinIO is back as it was: every env file byte for
// byte, KES without the key, S3 traffic flowing, every object readable.
func (r *rig) onStaticKey(t *testing.T) {
	t.Helper()
	ex.Unchanged(t, r.files, r.original)
	if r.kesHasKey(t) {
		t.Errorf("KES still holds %s: the rollback did not delete the key the run imported", keyName)
	}
	ex.NotFrozen(t, r.minio)
	ex.CheckObjects(t, r.minio, r.objs)
}

// refused checks a run refused by its preflight changed nothing.
func (r *rig) refused(t *testing.T, h *plantest.Harness, res engine.Result, want ...string) {
	t.Helper()
	if res.Outcome != engine.Failed || !errors.Is(res.Err, engine.ErrPreflight) {
		t.Fatalf("run: %s (%v), want refused by the preflight", res.Outcome, res.Err)
	}
	for _, w := range want {
		if !strings.Contains(res.Err.Error(), w) {
			t.Errorf("the refusal does not name %q: %v", w, res.Err)
		}
	}
	if !strings.Contains(res.Next, "cutover plan") {
		t.Errorf("next: %q, want a pointer to `cutover plan`", res.Next)
	}
	t.Logf("refused: %v\nnext: %s", res.Err, res.Next)
	ex.NoCheckpoint(t, h)
	ex.NotFrozen(t, r.minio)
	if r.kesHasKey(t) {
		t.Error("the refused run imported the key into KES")
	}
}

// withKMSCheck is plan.hcl with a kms_check of the default key on KES
// placed after migrate_keys and verify_keys, before the freeze.
func withKMSCheck(t *testing.T) string {
	src := string(ex.ReadFile(t, "plan.hcl"))
	check := "step \"kms_check\" \"default_key\" {\n  kms = kms.kes\n  key = var.key_name\n}\n\n"
	i := strings.Index(src, `step "drain" "s3"`)
	if i < 0 {
		t.Fatal("plan.hcl has no drain step")
	}
	return src[:i] + check + src[i:]
}

// TestValidate: both plans pass `cutover validate` with no inputs.
func TestValidate(t *testing.T) { ex.Validate(t, "plan.hcl", "rehearsal-wrong-key.hcl", "fleet.hcl") }

// TestStaticToKES runs every scenario of the example on one set of
// servers, in an order that leaves MinIO on its static key until the last
// one cuts it over.
func TestStaticToKES(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()

	// (c) MINIO_KMS_KES_KEY_NAME names a key KES will not have: the static
	// key is my-minio-key, the plan says my-minio-kee. A kms_check after
	// migrate_keys refuses it before any downtime, naming the key.
	t.Run("preflight refuses a default key the target will not hold", func(t *testing.T) {
		h := plantest.Load(t, t.TempDir(), withKMSCheck(t), planOpts(r.planVars("key_name", "my-minio-kee")))
		res := ex.Run(ctx, h, nil)
		r.refused(t, h, res, "kms_check.default_key", "my-minio-kee")
		ex.Unchanged(t, r.files, r.original)

		// The same check with the right name, on a KES that does not
		// hold the key yet, fails the same preflight (`cutover plan`
		// runs the same Plans): the preflight runs before migrate_keys
		// imports the key, unless the check says `after =
		// step.migrate_keys.to_kes`. plan.hcl needs neither: its env step
		// checks the default key by itself.
		h = plantest.Load(t, t.TempDir(), withKMSCheck(t), planOpts(r.planVars()))
		if plans, err := h.DryRun(ctx); err != nil {
			for _, p := range plans {
				if p.Err != nil {
					t.Logf("design gap, still present: on a fresh KES the preflight of %s fails: %v", p.Step.ID, p.Err)
				}
			}
		} else {
			t.Log("a kms_check after migrate_keys now passes the preflight on a fresh KES: plan.hcl can use it instead of its exec step")
		}
		ex.NotFrozen(t, r.minio)
	})

	// 4. The nodes' env files must be identical before the change.
	t.Run("preflight refuses env files that differ between nodes", func(t *testing.T) {
		node3 := r.files[2]
		if err := os.WriteFile(node3, append(bytes.Clone(r.original[2]), "MINIO_BROWSER=off\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		before := ex.Snapshot(t, r.files)
		h := r.load(t)
		r.refused(t, h, ex.Run(ctx, h, nil), "env.kms", node3)
		ex.Unchanged(t, r.files, before)
		ex.SyncNodes(t, r.files)
	})

	// The same mistake with plan.hcl as shipped, which has no key check
	// step: MINIO_KMS_KES_KEY_NAME names a key KES lacks and no step
	// imports (migrate_keys imports my-minio-key). The env step names
	// minio.prod, so `cutover plan` exits 1 naming the key and the KES,
	// and the run is refused by its preflight: nothing imported, MinIO
	// never frozen, no checkpoint. Without it MinIO would create an empty
	// my-minio-kee at startup and seal every new object with it.
	t.Run("a default key the plan does not import is refused before the run", func(t *testing.T) {
		code, stdout, stderr := ex.Cutover(append([]string{"plan"}, append(r.planVars("key_name", "my-minio-kee").Flags(), "plan.hcl")...)...)
		if code != cli.ExitFailed || !strings.Contains(stdout+stderr, `MinIO's default key "my-minio-kee" does not exist at kes at `+r.kes.Endpoint) {
			t.Fatalf("cutover plan exited %d, want %d naming the key and the KES\n%s\n%s", code, cli.ExitFailed, stdout, stderr)
		}
		h := r.load(t, "key_name", "my-minio-kee")
		res := ex.Run(ctx, h, nil)
		r.refused(t, h, res, "env.kms", `"my-minio-kee" does not exist at kes at `+r.kes.Endpoint)
		ex.Unchanged(t, r.files, r.original)
	})

	// (b) KES holds a different key under the same name: the rehearsal,
	// which has no key check step, is refused by its preflight (the env
	// step compares the static key with KES's key through KES), exit 1,
	// naming the key and the KES; nothing changed. Run through the CLI for
	// its exit code.
	t.Run("rehearsal with a wrong key in KES is refused before the freeze", func(t *testing.T) {
		wrong := make([]byte, 32)
		rand.Read(wrong)
		if err := r.kes.ImportKey(keyName, wrong); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := r.store.Delete(ctx, keyName); err != nil {
				t.Errorf("removing the wrong key: %v", err)
			}
		}()
		// migrate_keys and verify_keys catch it too: against KES they
		// compare keys through KES's decrypt API.
		if err := keyops.Verify(ctx, r.store, keyName, providers.Key{Material: r.key}); err == nil {
			t.Error("keyops.Verify (verify_keys, migrate_keys) accepts KES's DIFFERENT key as the static key")
		}
		code, stdout, stderr, dir := runCLI(t, "rehearsal-wrong-key.hcl", r.vars)
		if code != cli.ExitFailed {
			t.Fatalf("cutover run exited %d, want %d (refused)\n%s\n%s", code, cli.ExitFailed, stdout, stderr)
		}
		t.Logf("cutover run: exit %d\n%s", code, stderr)
		want := fmt.Sprintf(`MinIO's default key %q exists at kes at %s, and it is a DIFFERENT key from the key MinIO's objects were sealed with`, keyName, r.kes.Endpoint)
		if !strings.Contains(stderr, "preflight failed") || !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say the preflight refused KES's different key:\n%s", stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, ".cutover", "minio-static-to-kes-rehearsal", "state.json")); !os.IsNotExist(err) {
			t.Errorf("a refused run wrote a checkpoint (%v)", err)
		}
		for _, out := range []string{stdout, stderr} {
			if strings.Contains(out, r.kes.APIKey) || strings.Contains(out, base64.StdEncoding.EncodeToString(r.key)) {
				t.Error("the CLI printed a secret")
			}
		}
		ex.Unchanged(t, r.files, r.original)
		ex.NotFrozen(t, r.minio)
		ex.CheckObjects(t, r.minio, r.objs)
	})

	// 5b. The restart command fails (once): nothing was restarted, the
	// rollback restores the files, deletes the imported key, restarts
	// MinIO on the static key (the command works again) and releases.
	t.Run("restart command fails rolls back", func(t *testing.T) {
		flag := filepath.Join(t.TempDir(), "fail-next-restart")
		if err := os.WriteFile(flag, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf(`if [ -e %q ]; then rm -f %q; echo "restart refused" >&2; exit 1; fi; exec "$@"`, flag, flag)
		restart := ex.HCLList(append([]string{"sh", "-c", script, "restart"}, r.minio.RestartCommand()...)...)
		h := r.load(t, "restart_command", restart)
		res := ex.Run(ctx, h, nil)
		if res.Outcome != engine.RolledBack || !strings.Contains(fmt.Sprint(res.Err), "step restart.minio") {
			t.Fatalf("run: %s (%v), want rolled back after restart.minio", res.Outcome, res.Err)
		}
		want := []string{"1 undo env.kms done", "1 undo migrate_keys.to_kes done", "2 redo restart.minio done", "3 release drain.s3 done",
			"4 cleanup env.kms done", "4 cleanup migrate_keys.to_kes done"}
		if got := ex.RollbackActions(res); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("rollback actions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		ex.RolledBackCheckpoint(t, h, res)
		r.onStaticKey(t)
	})

	// 5c. MinIO would be pointed at a KES node that is down: MinIO would
	// exit at startup ("Failed to connect to KMS"). The preflight reads
	// which KMS MinIO will use from the env as the step leaves it, cannot
	// reach it, and refuses the run, naming it; nothing changed.
	t.Run("a KES MinIO would use that is down is refused before the run", func(t *testing.T) {
		h := r.load(t, "minio_kes_endpoint", r.kesDown.Endpoint)
		r.refused(t, h, ex.Run(ctx, h, nil), "env.kms", "MinIO's KMS after this step", r.kesDown.Endpoint, "unreachable")
		ex.Unchanged(t, r.files, r.original)
	})

	// 5d. The only KES node stops during the window, after the env files
	// are switched: MinIO cannot start on KES, and the rollback cannot
	// delete the key migrate_keys imported. The rollback stops there with
	// a checkpoint that names the failed compensation; once KES is back,
	// `cutover rollback` continues from it and finishes.
	t.Run("compensation fails then cutover rollback finishes", func(t *testing.T) {
		h := r.load(t, "drain_timeout", "5s", "ready_timeout", "10s")
		mark := ex.MarkLog(t, r.minio.LogFile)
		res := ex.Run(ctx, h, func(e event.Event) {
			if e.Type == event.StepDone && e.Step == "env.kms" {
				r.kes.Stop()
			}
		})
		defer func() {
			if !r.kesUp() {
				r.kes.Restart(t)
			}
		}()
		switch res.Outcome {
		case engine.RolledBack:
			t.Logf("the rollback no longer stops when KES is down (%v): the continuation below is not exercised", res.Err)
			r.kes.Restart(t)
			if r.kesHasKey(t) {
				if err := r.store.Delete(ctx, keyName); err != nil {
					t.Fatal(err)
				}
			}
			r.onStaticKey(t)
			return
		case engine.RollbackFailed:
		default:
			t.Fatalf("run: %s (%v), want a rollback that stops at a compensation", res.Outcome, res.Err)
		}
		if log := mark.Since(t); !strings.Contains(log, "Failed to connect to KMS") || !strings.Contains(log, r.kes.Endpoint) {
			t.Errorf("MinIO did not fail on the stopped KES; its log:\n%s", log)
		}
		got := ex.RollbackActions(res)
		t.Logf("rollback stopped: %v\nactions:\n%s\nnext: %s", res.Err, strings.Join(got, "\n"), res.Next)
		// Asking KES which keys MinIO created (env.kms's report) and
		// deleting the imported key need KES, which is down: that cleanup
		// runs last (phase 4), after MinIO is back on its static key and
		// traffic is released, so the outage cannot keep MinIO down.
		if !contains(got, "1 undo env.kms done") || !contains(got, "3 release drain.s3 done") || !contains(got, "4 cleanup env.kms failed") {
			t.Errorf("rollback actions:\n%s\nwant env restored, MinIO released, then the cleanup failed", strings.Join(got, "\n"))
		}
		if res.State.Phase != checkpoint.PhaseRollbackFailed || !strings.Contains(res.Next, "cutover rollback") {
			t.Errorf("phase %s, next %q: want rollback_failed and `cutover rollback`", res.State.Phase, res.Next)
		}
		ex.Unchanged(t, r.files, r.original) // phase 1 restored the files before it stopped
		// Stored state agrees with the result.
		st, err := h.Store.Load()
		if err != nil || st.Phase != checkpoint.PhaseRollbackFailed {
			t.Fatalf("stored checkpoint: %v, %v", st, err)
		}

		r.kes.Restart(t)
		again := ex.Rollback(ctx, h)
		if again.Outcome != engine.Completed {
			t.Fatalf("cutover rollback: %s (%v)", again.Outcome, again.Err)
		}
		for _, a := range ex.RollbackActions(again) {
			if !strings.HasSuffix(a, " done") {
				t.Errorf("after cutover rollback: %s", a)
			}
		}
		r.onStaticKey(t)
		if res := ex.Rollback(ctx, h); res.Outcome != engine.Completed {
			t.Errorf("a second cutover rollback: %s (%v), want a no-op", res.Outcome, res.Err)
		}
	})

	t.Run("rehearse", func(t *testing.T) { r.rehearse(t) })

	// (a) The cutover.
	t.Run("cutover", func(t *testing.T) {
		h := r.load(t)
		if plans, err := h.DryRun(ctx); err != nil {
			t.Fatalf("cutover plan: %v", err)
		} else {
			t.Logf("cutover plan: %d steps", len(plans))
		}
		st := h.MustComplete(ctx)
		for step, want := range map[string]string{"migrate_keys.to_kes": "1", "verify_keys.in_keystore": "1"} {
			if got := plantest.Output(st, step, "count"); got != want {
				t.Errorf("%s count = %q, want %s", step, got, want)
			}
		}
		if got := plantest.Output(st, "validate_objects.all", "checked"); got != fmt.Sprint(len(r.objs)) {
			t.Errorf("validate_objects checked %q objects, want %d", got, len(r.objs))
		}

		// Every node's env file: identical, on KES, without the static key.
		after := ex.Snapshot(t, r.files)
		for i, b := range after {
			if !bytes.Equal(b, after[0]) {
				t.Errorf("%s differs from %s after the cutover", r.files[i], r.files[0])
			}
		}
		env := string(after[0])
		for _, w := range []string{"MINIO_KMS_KES_ENDPOINT=" + r.kes.Endpoint, "MINIO_KMS_KES_KEY_NAME=" + keyName,
			"MINIO_KMS_KES_API_KEY=" + r.kes.APIKey, "MINIO_KMS_KES_CAPATH=" + r.kes.CAFile} {
			if !strings.Contains(env, w+"\n") {
				t.Errorf("env file lacks %s", strings.SplitN(w, "=", 2)[0])
			}
		}
		if strings.Contains(env, "MINIO_KMS_SECRET_KEY") || strings.Contains(env, base64.StdEncoding.EncodeToString(r.key)) {
			t.Error("the static key is still in the env file")
		}

		// KES holds exactly the static key, and MinIO uses KES.
		keskeytest.ProveSameKey(t, r.kes, keyName, providers.Key{Material: r.key})
		ex.NotFrozen(t, r.minio)
		before := r.kes.Requests(t)
		ex.CheckObjects(t, r.minio, r.objs)
		if n := r.kes.Requests(t) - before; n < float64(len(r.objs)) {
			t.Errorf("KES served %v requests while MinIO read %d objects", n, len(r.objs))
		}
		before = r.kes.Requests(t)
		fresh := ex.PutObjects(t, r.minio, "after", 5, buckets...)
		if n := r.kes.Requests(t) - before; n < 5 {
			t.Errorf("KES served %v requests for 5 new SSE-S3 objects: they are not sealed through KES", n)
		}
		ex.CheckObjects(t, r.minio, fresh)

		ex.NoSecrets(t, h.Store.Dir(), r.kes.APIKey, base64.StdEncoding.EncodeToString(r.key), r.minio.SecretKey, r.vault["vault_secret_id"])
	})
}

// planOpts are plan options with vars.
func planOpts(vars ex.Vars) plan.Options { return plan.Options{Vars: vars.Args()} }

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// kesUp reports whether the KES node answers.
func (r *rig) kesUp() bool { return r.store.Status(context.Background()) == nil }

// runCLI copies an example plan into a new directory and runs `cutover
// run` on it in-process, returning the exit code, the output and the
// directory (its state directory is .cutover/<plan name> there).
func runCLI(t *testing.T, file string, vars ex.Vars) (code int, stdout, stderr, dir string) {
	t.Helper()
	dir = t.TempDir()
	path := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(path, ex.ReadFile(t, file), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = ex.Cutover(append(append([]string{"run"}, vars.Flags()...), path)...)
	return code, stdout, stderr, dir
}

// loadState reads the checkpoint a CLI run left beside its plan.
func loadState(t *testing.T, dir, name string) *checkpoint.State {
	t.Helper()
	store, err := checkpoint.OpenExisting(filepath.Join(dir, ".cutover", name))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
