package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers/fs"
)

// TestEndpointMessages: `cutover plan` against real servers tells an
// unreachable endpoint (a closed port) from refused credentials (Vault with
// a wrong token: 403; KES with an API key it does not know), each with its
// own message and its own hint, and never prints the credential.
func TestEndpointMessages(t *testing.T) {
	v := testenv.Vault(t)
	k := testenv.KES(t, testenv.KESOptions{})
	if err := k.ImportKey("k", bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	stranger, err := kesauth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	closed := closedPort(t)
	vaultPlan := func(endpoint string) string {
		return `cutover "endpoints" {}
variable "token" {
  sensitive = true
}
kms "src" {
  type = "fs"
  path = "src"
}
kms "vault" {
  type     = "vault"
  endpoint = "` + endpoint + `"
  engine   = "secret"
  version  = "v2"
  token    = var.token
}
step "migrate_keys" "to_vault" {
  from = kms.src
  to   = kms.vault
}
`
	}
	kesPlan := `cutover "endpoints" {}
variable "token" {
  sensitive = true
}
kms "kes" {
  type     = "kes"
  endpoint = "` + k.Endpoint + `"
  ca_file  = "` + k.CAFile + `"
  api_key  = var.token
}
step "kms_check" "k" {
  kms = kms.kes
  key = "k"
}
`
	const (
		unreachable = "unreachable"
		refused     = "credentials refused"
		refusedHint = "cutover: hint: check the credentials (token, API key, access key) the plan gives for kms."
	)
	for _, c := range []struct {
		name, plan, token string
		want, hint        string
	}{
		{"vault wrong token", vaultPlan(v.Addr), "hvs.not-a-token-of-this-vault", "vault " + v.Addr + ": " + refused + " (403)", refusedHint + "vault"},
		{"vault closed port", vaultPlan("http://" + closed), v.Token, "vault http://" + closed + ": " + unreachable,
			"cutover: hint: check the address (vault http://" + closed + ") and that the server runs and is reachable from here; cutover waited "},
		{"kes unknown api key", kesPlan, stranger.Text(), "kes " + k.Endpoint + ": " + refused + " (403)", refusedHint + "kes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"plan.hcl": c.plan})
			if err := os.Mkdir(filepath.Join(dir, "src"), 0o700); err != nil {
				t.Fatal(err)
			}
			src, err := fs.New("kms.src", filepath.Join(dir, "src"))
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Create(context.Background(), "k", keystoretest.NewKey(t)); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CUTOVER_VAR_token", c.token)
			out := runIn(t, dir, ExitFailed, "plan", "plan.hcl")
			t.Logf("cutover plan:\n%s", out)
			if !strings.Contains(out, c.want) || !strings.Contains(out, c.hint) {
				t.Errorf("cutover plan printed:\n%s\nwant %q and the hint %q", out, c.want, c.hint)
			}
			if strings.Contains(c.want, refused) && strings.Contains(out, "not reachable") {
				t.Errorf("refused credentials read as unreachable:\n%s", out)
			}
			for _, other := range []string{unreachable, refused} {
				if !strings.Contains(c.want, other) && strings.Contains(out, ": "+other) {
					t.Errorf("cutover plan printed %q, which is not what happened:\n%s", other, out)
				}
			}
			if strings.Contains(out, c.token) {
				t.Errorf("the credential was printed:\n%s", out)
			}
		})
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// runIn runs cutover in-process in dir and checks its exit code; it
// returns stdout and stderr together.
func runIn(t *testing.T, dir string, code int, args ...string) string {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out bytes.Buffer
	if got := Main(append([]string{"cutover"}, args...), strings.NewReader(""), &out, &out); got != code {
		t.Fatalf("cutover %s exited %d, want %d:\n%s", strings.Join(args, " "), got, code, out.String())
	}
	return out.String()
}
