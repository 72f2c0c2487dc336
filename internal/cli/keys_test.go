package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/providers/fs"
)

// keyRig is a plan with an fs source of random keys, an empty fs target, and
// everything cutover printed.
type keyRig struct {
	t        *testing.T
	dir      string
	material [][]byte
	printed  bytes.Buffer
}

func newKeyRig(t *testing.T, dir string, n int, steps, verify string) *keyRig {
	r := &keyRig{t: t, dir: dir}
	src, dst := filepath.Join(r.dir, "src"), filepath.Join(r.dir, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s, err := fs.New("kms.src", src)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		k := keystoretest.NewKey(t)
		r.material = append(r.material, k.Material)
		if err := s.Create(context.Background(), fmt.Sprintf("key-%03d", i), k); err != nil {
			t.Fatal(err)
		}
	}
	common := `cutover "keys" {}
variable "passphrase" {
  sensitive = true
}
kms "src" {
  type = "fs"
  path = "src"
}
kms "dst" {
  type = "fs"
  path = "dst"
}
`
	writeFiles(t, r.dir, map[string]string{"plan.hcl": common + steps, "verify.hcl": strings.Replace(common, `"keys"`, `"verify"`, 1) + verify})
	return r
}

// cutover runs cutover in-process in the rig's directory and checks the code.
func (r *keyRig) cutover(code int, args ...string) string {
	r.t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(r.dir); err != nil {
		r.t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out bytes.Buffer
	got := Main(append([]string{"cutover"}, args...), strings.NewReader(""), &out, &out)
	r.printed.Write(out.Bytes())
	if got != code {
		r.t.Fatalf("cutover %s exited %d, want %d:\n%s", strings.Join(args, " "), got, code, out.String())
	}
	return out.String()
}

// scanMaterial looks for every key's material — raw, base64 and hex — in
// what cutover printed and in the state directory, and in extra files.
func (r *keyRig) scanMaterial(extra ...string) {
	r.t.Helper()
	blobs := map[string][]byte{"output": r.printed.Bytes()}
	for name, data := range readTree(r.t, filepath.Join(r.dir, ".cutover"), nil) {
		blobs["state "+name] = []byte(data)
	}
	for _, f := range extra {
		data, err := os.ReadFile(filepath.Join(r.dir, f))
		if err != nil {
			r.t.Fatal(err)
		}
		blobs[f] = data
	}
	for i, m := range r.material {
		forms := [][]byte{m, []byte(base64.StdEncoding.EncodeToString(m)), []byte(hex.EncodeToString(m))}
		for label, data := range blobs {
			for _, f := range forms {
				if bytes.Contains(data, f) {
					r.t.Errorf("%s holds the material of key %d", label, i)
				}
			}
		}
	}
}

func ageIdentity(t *testing.T, dir string) string {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"ops.key": id.String() + "\n"})
	return id.Recipient().String()
}

const verifyRestored = `
step "verify_keys" "restored" {
  from = kms.src
  to   = kms.dst
}
`

// TestBackupRestoreVerify: a backup made by backup_keys restores into an
// empty store, and verify_keys then passes against the source. No key
// material appears in any output, the state directory or the backup file.
func TestBackupRestoreVerify(t *testing.T) {
	for _, mode := range []string{"recipients", "passphrase"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			enc, restoreWith := `passphrase = var.passphrase`, []string{"--passphrase-env", "BACKUP_PASS"}
			if mode == "recipients" {
				enc = fmt.Sprintf("recipients    = [%q]\n  identity_file = \"ops.key\"", ageIdentity(t, dir))
				restoreWith = []string{"--identity", "ops.key"}
			}
			r := newKeyRig(t, dir, 120, fmt.Sprintf(`
step "backup_keys" "src" {
  from = kms.src
  to   = "backups/keys.age"
  %s
}
`, enc), verifyRestored)
			t.Setenv("BACKUP_PASS", "correct horse battery staple")
			r.cutover(0, "run", "plan.hcl", "-var", "passphrase=correct horse battery staple")
			restore := append([]string{"keys", "restore", "--plan", "plan.hcl", "--to", "kms.dst", "backups/keys.age"}, restoreWith...)
			if out := r.cutover(0, restore...); !strings.Contains(out, "restored 120 keys into kms.dst (120 created") {
				t.Fatalf("restore said:\n%s", out)
			}
			if out := r.cutover(0, "run", "verify.hcl", "-var", "passphrase="); !strings.Contains(out, "120 keys verified; counts equal") {
				t.Fatalf("verify_keys did not pass after the restore:\n%s", out)
			}
			if out := r.cutover(0, restore...); !strings.Contains(out, "(0 created, 120 already there and identical)") {
				t.Fatalf("a second restore is not a no-op:\n%s", out)
			}
			r.scanMaterial("backups/keys.age")
		})
	}
}

// TestRestoreRefusesCorruptBackup: a backup whose ciphertext was damaged
// restores nothing.
func TestRestoreRefusesCorruptBackup(t *testing.T) {
	dir := t.TempDir()
	rcpt := ageIdentity(t, dir)
	r := newKeyRig(t, dir, 10, fmt.Sprintf(`
step "backup_keys" "src" {
  from       = kms.src
  to         = "keys.age"
  recipients = [%q]
}
`, rcpt), verifyRestored)
	r.cutover(0, "run", "plan.hcl", "-var", "passphrase=")
	path := filepath.Join(dir, "keys.age")
	data, _ := os.ReadFile(path)
	data[len(data)-20] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r.cutover(1, "keys", "restore", "--plan", "plan.hcl", "--to", "kms.dst", "--identity", "ops.key", "keys.age")
	if entries, _ := os.ReadDir(filepath.Join(dir, "dst")); len(entries) != 0 {
		t.Fatalf("a corrupt backup restored %d keys", len(entries))
	}
}
