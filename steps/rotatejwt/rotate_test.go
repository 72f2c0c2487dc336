package rotatejwt_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
)

func jwtList(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := envfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.Get("JWT_ECDSA_KEY")
	return strings.Split(strings.ReplaceAll(v, `\n`, "\n"), ",") // PEM's newlines stand as \n
}

// TestRotateAndRestore: the list becomes new,old in every node's env file
// and in Vault; the new key is a P-256 PKCS#8 key; a failure later rolls the
// list back byte for byte, and Vault to its previous value.
func TestRotateAndRestore(t *testing.T) {
	v := testenv.Vault(t)
	dir := t.TempDir()
	_, oldKey := genKey(t, "P-256", "base64_der")
	original := "KMS_PROVIDER=local\nJWT_ECDSA_KEY=" + oldKey + "\n"
	for _, n := range []string{"node1.env", "node2.env"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(original), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Client(t).KVv2("secret").Put(context.Background(), "app/jwt", map[string]any{"JWT_ECDSA_KEY": oldKey, "other": "kept"}); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`cutover "jwt" {}
variable "token" {
  sensitive = true
}
step "rotate_jwt" "signing" {
  files = ["node1.env", "node2.env"]
  vault {
    address = %q
    token   = var.token
    path    = "app/jwt"
  }
}
step "exec" "later" {
  command = ["sh", "-c", "test -e pass"]
}
`, v.Addr)
	h := plantest.Load(t, dir, src, plan.Options{Vars: []string{"token=" + v.Token}})
	os.WriteFile(filepath.Join(dir, "pass"), nil, 0o600)
	st := h.MustComplete(context.Background())
	list := jwtList(t, filepath.Join(dir, "node1.env"))
	if len(list) != 2 || list[1] != oldKey || list[0] == oldKey {
		t.Fatalf("JWT_ECDSA_KEY has %d keys, want new,old", len(list))
	}
	der, _ := base64.StdEncoding.DecodeString(list[0])
	if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
		t.Fatalf("the new key is not PKCS#8: %v", err)
	}
	if plantest.Output(st, "rotate_jwt.signing", "kid") == "" {
		t.Fatal("no kid output")
	}
	n2 := jwtList(t, filepath.Join(dir, "node2.env"))
	if strings.Join(n2, ",") != strings.Join(list, ",") {
		t.Fatal("the nodes got different lists")
	}
	sec, err := v.Client(t).KVv2("secret").Get(context.Background(), "app/jwt")
	if err != nil || sec.Data["JWT_ECDSA_KEY"] != strings.Join(list, ",") || sec.Data["other"] != "kept" {
		t.Fatalf("vault secret not updated in place (err %v)", err)
	}

	// a second plan run whose later step fails rolls the list back exactly
	os.Remove(filepath.Join(dir, "pass"))
	if r := h.Rollback(context.Background(), false); r.Outcome != engine.Completed {
		t.Fatalf("rollback: %s %v", r.Outcome, r.Err)
	}
	for _, n := range []string{"node1.env", "node2.env"} {
		if data, _ := os.ReadFile(filepath.Join(dir, n)); string(data) != original {
			t.Fatalf("%s not restored byte for byte", n)
		}
	}
	sec, err = v.Client(t).KVv2("secret").Get(context.Background(), "app/jwt")
	if err != nil || sec.Data["JWT_ECDSA_KEY"] != oldKey || sec.Data["other"] != "kept" {
		t.Fatalf("vault secret not restored (err %v)", err)
	}
	for _, e := range h.Events.Events {
		if strings.Contains(e.Message, list[0]) {
			t.Fatalf("the new key appeared in an event: %s", e.Type)
		}
	}
}
