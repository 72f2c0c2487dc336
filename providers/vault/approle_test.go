package vault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/providers"
)

// appRoleStore opens a KV v2 store at a fresh prefix that logs in with a
// new AppRole whose policy covers just that prefix.
func appRoleStore(t *testing.T) *Store {
	t.Helper()
	v := sharedVault(t)
	prefix := uniquePrefix(t)
	policy := fmt.Sprintf(`path "kv2/data/%[1]s/*" { capabilities = ["create", "read", "update"] }
path "kv2/metadata/%[1]s/*" { capabilities = ["list", "read", "delete"] }
path "kv2/metadata/%[1]s" { capabilities = ["list"] }
`, prefix)
	id, secret := v.AppRole(t, "r"+prefix[:min(len(prefix), 40)], policy)
	return mustNew(t, &Config{Name: "kms.vault", Endpoint: v.Addr, Engine: "kv2", Version: V2, Prefix: prefix,
		AppRole: &AppRole{Engine: "approle", ID: id, Secret: secret}})
}

func TestAppRoleSuite(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) providers.KeyStore { return appRoleStore(t) },
		keystoretest.Options{Readable: true})
}

// TestAppRoleReloginAfterRevoke: a revoked token is replaced by a new
// login, once, transparently.
func TestAppRoleReloginAfterRevoke(t *testing.T) {
	s := appRoleStore(t)
	ctx := context.Background()
	k := keystoretest.NewKey(t)
	if err := s.Create(ctx, "k", k); err != nil {
		t.Fatal(err)
	}
	first := s.client.Token()
	if err := vaultServer.Client(t).Auth().Token().RevokeTreeWithContext(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("Get after the token was revoked: %v", err)
	}
	if s.client.Token() == first || s.auth.gen != 2 {
		t.Fatalf("no new login (generation %d)", s.auth.gen)
	}
}

// TestAppRoleForbiddenStaysForbidden: a path the policy does not cover is
// refused after the one re-login, not retried forever.
func TestAppRoleForbiddenStaysForbidden(t *testing.T) {
	s := appRoleStore(t)
	c := s.cfg
	c.Prefix += "-other"
	outside := mustNew(t, &c)
	_, err := outside.Get(context.Background(), "k")
	if !isStatus(err, http.StatusForbidden) {
		t.Fatalf("Get outside the policy: err = %v, want 403", err)
	}
	if outside.auth.gen != 2 {
		t.Fatalf("login generation %d, want 2 (first login, one re-login)", outside.auth.gen)
	}
}

func TestAppRoleBadSecret(t *testing.T) {
	v := sharedVault(t)
	s := mustNew(t, &Config{Name: "kms.vault", Endpoint: v.Addr, Engine: "kv2", Version: V2,
		AppRole: &AppRole{Engine: "approle", ID: "no-such-role", Secret: "wrong-secret-id"}})
	err := s.Status(context.Background())
	if err == nil {
		t.Fatal("Status with a wrong AppRole secret succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "wrong-secret-id") || strings.Contains(msg, "no-such-role") {
		t.Fatalf("error shows a credential: %v", err)
	}
}
