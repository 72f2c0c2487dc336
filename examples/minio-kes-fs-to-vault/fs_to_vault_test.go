// Package miniokesfstovault_test runs examples/minio-kes-fs-to-vault
// against real servers: MinIO on a KES whose filesystem keystore holds
// 2,000 keys, a second KES on Vault (KV v2, AppRole), and Vault sealed in
// the middle of the key copy, twice.
package miniokesfstovault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	ex "github.com/cutover/cutover/internal/testing/minioexamples"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/fs"
)

const (
	defaultKey = "minio-default-key"
	tenantKey  = "tenant-0042"
	keyCount   = 2000
	migrateID  = "migrate_keys.to_vault"
)

// createKeys fills the fs keystore dir with the default key and
// tenant-0001 ... so that it holds keyCount keys, as KES writes them.
func createKeys(t *testing.T, dir string) {
	store, err := fs.New("kms.seed", dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{defaultKey}
	for i := 1; i < keyCount; i++ {
		names = append(names, fmt.Sprintf("tenant-%04d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	sem := make(chan struct{}, 16)
	for _, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			k := providers.Key{Material: make([]byte, 32), Algorithm: "AES256"}
			rand.Read(k.Material)
			errs <- store.Create(context.Background(), n, k)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// vaultSeal seals and unseals the dev server with the unseal key it
// printed at startup.
type vaultSeal struct {
	t   *testing.T
	v   *testenv.VaultServer
	key string
}

func newVaultSeal(t *testing.T, v *testenv.VaultServer) *vaultSeal {
	m := regexp.MustCompile(`Unseal Key: (\S+)`).FindSubmatch(ex.ReadFile(t, v.LogFile))
	if m == nil {
		t.Fatal("the Vault dev server printed no unseal key")
	}
	return &vaultSeal{t: t, v: v, key: string(m[1])}
}

func (s *vaultSeal) seal() error { return s.v.Client(s.t).Sys().Seal() }

func (s *vaultSeal) unseal() error {
	st, err := s.v.Client(s.t).Sys().Unseal(s.key)
	if err == nil && st.Sealed {
		err = fmt.Errorf("still sealed after the unseal key")
	}
	return err
}

// sealAt returns an event sink that seals Vault once migrate_keys reports
// at least n keys done, and unseals it `after` later when after > 0.
func (s *vaultSeal) sealAt(n int64, after time.Duration) func(event.Event) {
	var once sync.Once
	return func(e event.Event) {
		if e.Type != event.StepProgress || e.Step != migrateID || e.Progress.Done < n {
			return
		}
		once.Do(func() {
			if err := s.seal(); err != nil {
				s.t.Errorf("seal: %v", err)
				return
			}
			s.t.Logf("Vault sealed at %d of %d keys", e.Progress.Done, e.Progress.Total)
			if after > 0 {
				time.AfterFunc(after, func() {
					if err := s.unseal(); err != nil {
						s.t.Errorf("unseal: %v", err)
					}
				})
			}
		})
	}
}

// journal counts the key records of migrate_keys' journal by status.
func journal(t *testing.T, h *plantest.Harness) map[string]int {
	counts := map[string]int{}
	err := h.Store.ReadJournal(migrateID, "keys", func(line []byte) error {
		for _, s := range []string{"start", "created", "skipped"} {
			if bytes.Contains(line, []byte(`"s":"`+s+`"`)) {
				counts[s]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// vaultKeys counts the keys under the new KES's prefix in Vault.
func vaultKeys(t *testing.T, v *testenv.VaultServer, engine, prefix string) int {
	s, err := v.Client(t).Logical().List(engine + "/metadata/" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return 0
	}
	keys, _ := s.Data["keys"].([]any)
	return len(keys)
}

// TestValidate: the plan passes `cutover validate` with no inputs.
func TestValidate(t *testing.T) { ex.Validate(t, "plan.hcl") }

// TestKESFsToVault: Vault is sealed in the middle of the copy of 2,000
// keys. With no retries the step fails and the run rolls back (MinIO was
// never frozen; nothing but the copy happened); once Vault is unsealed,
// `cutover run` starts again and skips the keys already copied. Vault is
// sealed again in that run for 6 seconds (longer than the Vault client's
// own retries, shorter than the step's): the step's retry resumes from
// its journal, and the cutover completes.
func TestKESFsToVault(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keystore := filepath.Join(dir, "old-kes-keys")
	if err := os.Mkdir(keystore, 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	createKeys(t, keystore)
	t.Logf("%d keys in the fs keystore in %s", keyCount, time.Since(start).Round(time.Millisecond))

	v := testenv.Vault(t)
	oldKES := testenv.KES(t, testenv.KESOptions{KeystoreDir: keystore})
	newKES := testenv.KES(t, testenv.KESOptions{Vault: v})
	m := testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: oldKES.MinIOEnv(defaultKey)})
	buckets := []string{"photos", "ledger"}
	ex.MakeBuckets(t, m, buckets...)
	objs := append(ex.PutObjects(t, m, "before", 200, buckets...), ex.PutObjectsKMS(t, m, "tenant", 100, "ledger", tenantKey)...)
	files := ex.NodeEnvFiles(t, m, dir, 3)
	original := ex.Snapshot(t, files)
	recipient, idFile := ex.AgeIdentity(t, dir)
	role, secret := v.AppRole(t, "cutover-migrate", fmt.Sprintf(`path "%[1]s/data/%[2]s/*" { capabilities = ["create", "read", "update"] }
path "%[1]s/metadata/%[2]s" { capabilities = ["list"] }
`, newKES.Engine, newKES.Prefix))
	vars := ex.Vars{
		"env_files": ex.HCLList(files...), "restart_command": ex.RestartVar(m),
		"minio_endpoint": m.Endpoint, "minio_access_key": m.AccessKey, "minio_secret_key": m.SecretKey,
		"buckets": ex.HCLList(buckets...), "key_name": defaultKey, "fs_keystore": keystore,
		"vault_endpoint": v.Addr, "vault_engine": newKES.Engine, "vault_prefix": newKES.Prefix,
		"vault_role_id": role, "vault_secret_id": secret,
		"new_kes_endpoint": newKES.Endpoint, "new_kes_api_key": newKES.APIKey, "new_kes_ca_file": newKES.CAFile,
		"backup_recipients": ex.HCLList(recipient), "backup_identity_file": idFile,
	}
	vs := newVaultSeal(t, v)

	// Run 1: sealed for good at 500 keys, no retries: the run rolls back.
	h1 := ex.Load(t, "plan.hcl", vars.With("backup_file", filepath.Join(t.TempDir(), "keys.age"), "migrate_retries", "0"))
	// Before the run the default key is checked through the new KES: not
	// there yet, written by the migration into its Vault keystore, and the
	// key the old KES serves.
	plans, err := h1.DryRun(ctx)
	if err != nil {
		t.Fatalf("cutover plan: %v", err)
	}
	want := fmt.Sprintf(`MinIO's default key %q is not on kes at %s yet; %s will copy it there, and is the key MinIO's objects were sealed with (KES at %s)`,
		defaultKey, newKES.Endpoint, migrateID, oldKES.Endpoint)
	if !planSays(plans, "env.kms", want) {
		t.Errorf("env.kms's plan does not say %q", want)
	}
	start = time.Now()
	res := ex.Run(ctx, h1, vs.sealAt(500, 0))
	t.Logf("run 1: %s in %s: %v\nnext: %s", res.Outcome, time.Since(start).Round(time.Millisecond), res.Err, res.Next)
	if res.Outcome != engine.RolledBack || !strings.Contains(fmt.Sprint(res.Err), "step "+migrateID) {
		t.Fatalf("run 1: %s (%v), want rolled back after %s", res.Outcome, res.Err, migrateID)
	}
	if got := ex.RollbackActions(res); strings.Join(got, ",") != "1 undo "+migrateID+" done,4 cleanup "+migrateID+" done" {
		t.Errorf("rollback actions %v, want only the copy's undo and cleanup", got)
	}
	st, err := h1.Store.Load()
	if err != nil || st.Phase != checkpoint.PhaseRolledBack || st.Step(migrateID).Status != checkpoint.StatusFailed ||
		st.Step("drain.s3").Status != checkpoint.StatusPending {
		t.Fatalf("checkpoint after run 1: %+v, %v", st, err)
	}
	ex.RolledBackCheckpoint(t, h1, res)
	copied := journal(t, h1)
	t.Logf("run 1 journal: %v", copied)
	if copied["created"] < 400 || copied["created"] >= keyCount {
		t.Errorf("run 1 copied %d keys before Vault was sealed, want about 500", copied["created"])
	}
	ex.Unchanged(t, files, original)
	ex.NotFrozen(t, m)
	ex.CheckObjects(t, m, objs)

	// Run 2: Vault is back; sealed again at 1,500 keys for 6 seconds.
	if err := vs.unseal(); err != nil {
		t.Fatal(err)
	}
	if n := vaultKeys(t, v, newKES.Engine, newKES.Prefix); n < copied["created"] {
		t.Errorf("Vault holds %d keys, run 1 journaled %d created", n, copied["created"])
	}
	h2 := ex.Load(t, "plan.hcl", vars.With("backup_file", filepath.Join(t.TempDir(), "keys.age"),
		"migrate_retries", "5", "migrate_retry_interval", "2s"))
	start = time.Now()
	res = ex.Run(ctx, h2, vs.sealAt(1500, 6*time.Second))
	t.Logf("run 2: %s in %s", res.Outcome, time.Since(start).Round(time.Millisecond))
	if res.Outcome != engine.Completed {
		t.Fatalf("run 2: %s (%v)", res.Outcome, res.Err)
	}
	retries := 0
	for _, e := range h2.Events.Events {
		switch {
		case e.Type == event.StepRetry && e.Step == migrateID:
			retries++
			t.Logf("retry: %s", e.Message)
		case e.Type == event.StepRetry:
			t.Logf("retry of %s: %s", e.Step, e.Message)
		case e.Type == event.StepDone:
			t.Logf("  %-40s %s", e.Step, e.Elapsed.Round(time.Millisecond))
		}
	}
	if retries == 0 {
		t.Error("migrate_keys was not retried after Vault was sealed")
	}
	summary := res.State.Step(migrateID).Summary
	t.Logf("%s: %s; journal %v", migrateID, summary, journal(t, h2))
	if m := regexp.MustCompile(`(\d+) already done before a resume`).FindStringSubmatch(summary); m == nil || m[1] == "0" {
		t.Errorf("the retry did not resume from the journal: %q", summary)
	}
	// The keys run 1 copied were found identical (on_conflict = "verify").
	// The step's skipped output counts only its last attempt: the journal
	// has every attempt's records.
	if j := journal(t, h2); j["skipped"] < copied["created"] {
		t.Errorf("run 2 skipped %d identical keys, run 1 had copied %d", j["skipped"], copied["created"])
	}
	if got := plantest.Output(res.State, "verify_keys.in_vault", "count"); got != strconv.Itoa(keyCount) {
		t.Errorf("verify_keys count %q, want %d", got, keyCount)
	}
	if n := vaultKeys(t, v, newKES.Engine, newKES.Prefix); n != keyCount {
		t.Errorf("Vault holds %d keys, want %d", n, keyCount)
	}

	// MinIO now runs on the new KES: every object reads through it, and
	// the old KES serves nothing.
	after := ex.Snapshot(t, files)
	for i := range files {
		if !bytes.Equal(after[i], after[0]) {
			t.Errorf("%s differs from %s", files[i], files[0])
		}
	}
	for _, w := range []string{"MINIO_KMS_KES_ENDPOINT=" + newKES.Endpoint, "MINIO_KMS_KES_API_KEY=" + newKES.APIKey,
		"MINIO_KMS_KES_CAPATH=" + newKES.CAFile, "MINIO_KMS_KES_KEY_NAME=" + defaultKey} {
		if !bytes.Contains(after[0], []byte(w+"\n")) {
			t.Errorf("env file lacks %s", strings.SplitN(w, "=", 2)[0])
		}
	}
	ex.NotFrozen(t, m)
	oldBefore, newBefore := oldKES.Requests(t), newKES.Requests(t)
	ex.CheckObjects(t, m, objs)
	fresh := ex.PutObjectsKMS(t, m, "after", 3, "ledger", "tenant-1999")
	ex.CheckObjects(t, m, fresh)
	oldServed, newServed := oldKES.Requests(t)-oldBefore, newKES.Requests(t)-newBefore
	if oldServed != 0 || newServed < float64(len(objs)) {
		t.Errorf("while MinIO read %d objects, the old KES served %v requests and the new one %v", len(objs), oldServed, newServed)
	}
	ex.NoSecrets(t, h2.Store.Dir(), newKES.APIKey, secret, m.SecretKey)
}

// planSays reports whether step id's plan has an action containing want.
func planSays(plans []engine.StepPlan, id, want string) bool {
	for _, p := range plans {
		for _, a := range p.Actions {
			if p.Step.ID == id && strings.Contains(a.Summary, want) {
				return true
			}
		}
	}
	return false
}
