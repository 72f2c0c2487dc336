// Package miniokestokeymanager_test checks examples/minio-kes-to-keymanager
// without running it: AIStor Key Manager cannot run here. `cutover
// validate` and `cutover plan` run in-process against a real MinIO on a
// real KES with the env files of three nodes, and must show the switch
// (KES lines commented out, Key Manager lines added, secrets masked)
// while changing nothing.
package miniokestokeymanager_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/cli"
	ex "github.com/cutover/cutover/internal/testing/minioexamples"
	"github.com/cutover/cutover/internal/testing/testenv"
)

const keyName = "minio-default-key"

// TestKeyManagerPlan: validate needs no inputs and contacts nothing; plan
// preflights MinIO and KES read-only and prints, for each node's file,
// the KES variables commented out and the Key Manager ones added, the API
// keys masked; nothing changes and no state directory appears.
func TestKeyManagerPlan(t *testing.T) {
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(planFile, ex.ReadFile(t, "plan.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	ex.Validate(t, planFile)

	k := testenv.KES(t, testenv.KESOptions{})
	if err := k.ImportKey(keyName, bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	m := testenv.MinIO(t, testenv.MinIOOptions{KMSEnv: k.MinIOEnv(keyName)})
	ex.MakeBuckets(t, m, "photos")
	objs := ex.PutObjects(t, m, "before", 20, "photos")
	files := ex.NodeEnvFiles(t, m, dir, 3)
	before := ex.Snapshot(t, files)

	const apiKey = "k1:c2VjcmV0LWVuY2xhdmUtYWRtaW4ta2V5LWZvci10ZXN0cw"
	vars := ex.Vars{
		"env_files": ex.HCLList(files...), "restart_command": ex.RestartVar(m),
		"minio_endpoint": m.Endpoint, "minio_access_key": m.AccessKey, "minio_secret_key": m.SecretKey,
		"buckets": ex.HCLList("photos"), "kes_endpoint": k.Endpoint, "kes_api_key": k.APIKey,
		"kes_ca_file": k.CAFile, "key_name": keyName,
		"keymanager_servers": ex.HCLList("https://km-1.example.net:7373", "https://km-2.example.net:7373"),
		"keymanager_api_key": apiKey, "enclave": "aistor-primary",
	}
	code, out, errOut := ex.Cutover(append(append([]string{"plan"}, vars.Flags()...), planFile)...)
	t.Logf("cutover plan: exit %d\n%s%s", code, out, errOut)
	if code != cli.ExitOK {
		t.Fatalf("cutover plan exited %d", code)
	}
	for _, want := range []string{
		"+ MINIO_KMS_SERVER = \"https://km-1.example.net:7373,https://km-2.example.net:7373\"",
		"+ MINIO_KMS_API_KEY = (sensitive)",
		"+ MINIO_KMS_ENCLAVE = \"aistor-primary\"",
		"+ MINIO_KMS_SSE_KEY = ",
		"# MINIO_KMS_KES_ENDPOINT (commented out)",
		"# MINIO_KMS_KES_KEY_NAME (commented out)",
		"# MINIO_KMS_KES_API_KEY (commented out)",
		"# MINIO_KMS_KES_CAPATH (commented out)",
		"key " + keyName + " on kes at " + k.Endpoint + ": exists, enabled, encrypt/decrypt round trip OK now",
		"POINT OF NO RETURN",
		"UNVERIFIED: MinIO's KMS after this step is AIStor Key Manager at https://km-1.example.net:7373,https://km-2.example.net:7373 (enclave \"aistor-primary\") with default key \"" + keyName + "\": cutover cannot reach AIStor Key Manager",
		"Nothing was changed.",
	} {
		if n := strings.Count(out, want); n == 0 {
			t.Errorf("the plan does not show %q", want)
		}
	}
	for _, f := range files {
		if !strings.Contains(out, "edit "+f) {
			t.Errorf("the plan does not edit %s", f)
		}
	}
	if n := strings.Count(out, "# MINIO_KMS_KES_ENDPOINT (commented out)"); n != len(files) {
		t.Errorf("MINIO_KMS_KES_ENDPOINT is commented out in %d files, want %d", n, len(files))
	}
	if strings.Contains(out, "MINIO_KMS_KES_CERT_FILE") {
		t.Error("the plan shows a change to MINIO_KMS_KES_CERT_FILE, which no file sets")
	}
	if strings.Contains(out, "+ MINIO_KMS_SSE_KEY = (sensitive)") {
		t.Error("MINIO_KMS_SSE_KEY holds a key name and must be shown, not masked")
	}
	for _, secret := range []string{apiKey, k.APIKey, m.SecretKey} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("the plan printed a secret (%.8s...)", secret)
		}
	}

	ex.Unchanged(t, files, before)
	ex.NotFrozen(t, m)
	ex.CheckObjects(t, m, objs)
	if _, err := os.Stat(filepath.Join(dir, ".cutover")); err == nil {
		t.Error("cutover plan created a state directory")
	}

	// `cutover run` without --accept-unverified-kms refuses at its
	// preflight, saying what it could not verify: nothing changes.
	code, out, errOut = ex.Cutover(append(append([]string{"run", "--yes"}, vars.Flags()...), planFile)...)
	t.Logf("cutover run: exit %d\n%s%s", code, out, errOut)
	if code != cli.ExitFailed || !strings.Contains(errOut, "env.kms: could not be verified: MinIO's KMS after this step is AIStor Key Manager") ||
		!strings.Contains(errOut, "--accept-unverified-kms") {
		t.Errorf("cutover run exited %d, want %d refusing the unverified key", code, cli.ExitFailed)
	}
	ex.Unchanged(t, files, before)
	ex.NotFrozen(t, m)
	if _, err := os.Stat(filepath.Join(dir, ".cutover", "minio-kes-to-keymanager", "state.json")); err == nil {
		t.Error("the refused run wrote a checkpoint")
	}
}
