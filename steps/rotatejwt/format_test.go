package rotatejwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/steps/rotatejwt"
)

// The test's own key codec: it encodes and decodes keys with the standard
// library alone, so the step's output is checked by code that is not the
// step's.

var testCurves = map[string]struct {
	curve  elliptic.Curve
	method *jwt.SigningMethodECDSA
}{
	"P-256": {elliptic.P256(), jwt.SigningMethodES256},
	"P-384": {elliptic.P384(), jwt.SigningMethodES384},
	"P-521": {elliptic.P521(), jwt.SigningMethodES512},
}

var testEncodings = []string{"base64_der", "pem", "base64_pem"}

// genKey returns a new key on curve and its encoding.
func genKey(t *testing.T, curve, encoding string) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(testCurves[curve].curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	switch encoding {
	case "base64_der":
		return k, base64.StdEncoding.EncodeToString(der)
	case "pem":
		return k, strings.TrimSpace(string(block))
	case "base64_pem":
		return k, base64.StdEncoding.EncodeToString(block)
	}
	t.Fatalf("no encoding %q", encoding)
	return nil, ""
}

// decodeKey reads s, which must be in encoding, as a PKCS#8 ECDSA key.
func decodeKey(t *testing.T, s, encoding string) *ecdsa.PrivateKey {
	t.Helper()
	var der []byte
	switch encoding {
	case "base64_der":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not base64: %v", err)
		}
		der = b
	case "pem", "base64_pem":
		data := []byte(s)
		if encoding == "base64_pem" {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("not base64: %v", err)
			}
			data = b
		}
		block, rest := pem.Decode(data)
		if block == nil || block.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) > 0 {
			t.Fatalf("not one PEM PRIVATE KEY block")
		}
		der = block.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("not PKCS#8: %v", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("a %T, not an ECDSA key", k)
	}
	return ec
}

// kid is the key ID scheme of the step and the demo app.
func kid(t *testing.T, pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:16]
}

// sign returns a token signed by k with golang-jwt.
func sign(t *testing.T, curve string, k *ecdsa.PrivateKey, subject string) string {
	t.Helper()
	tok := jwt.NewWithClaims(testCurves[curve].method, jwt.RegisteredClaims{Subject: subject, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))})
	tok.Header["kid"] = kid(t, &k.PublicKey)
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verify checks token with golang-jwt against pub, and its kid.
func verify(t *testing.T, curve, token string, pub *ecdsa.PublicKey, subject string) {
	t.Helper()
	var claims jwt.RegisteredClaims
	parsed, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{testCurves[curve].method.Alg()}), jwt.WithExpirationRequired())
	if err != nil || !parsed.Valid || claims.Subject != subject {
		t.Fatalf("token of %s does not verify: %v", subject, err)
	}
	if parsed.Header["kid"] != kid(t, pub) {
		t.Fatalf("token of %s has kid %v, want %s", subject, parsed.Header["kid"], kid(t, pub))
	}
}

// writeList writes an env file holding JWT_ECDSA_KEY=list, quoted as the
// value needs (PEM holds newlines).
func writeList(t *testing.T, path string, list ...string) []byte {
	t.Helper()
	f, err := envfile.Parse([]byte("KMS_PROVIDER=local\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.Set("JWT_ECDSA_KEY", strings.ReplaceAll(strings.Join(list, ","), "\n", `\n`)) // PEM's newlines as \n
	if err := os.WriteFile(path, f.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return f.Bytes()
}

// rotatePlan is a plan with one rotate_jwt step over app.env, with extra
// attributes, followed by an exec step that fails unless a file "pass"
// exists.
func rotatePlan(extra string) string {
	return `cutover "jwt" {}
step "rotate_jwt" "signing" {
  files = ["app.env"]
  ` + extra + `
}
step "exec" "later" {
  command = ["sh", "-c", "test -e pass"]
}
`
}

// TestRoundTripEveryEncodingAndCurve: for each encoding and curve, a list
// holding one key in that format becomes new,old with the new key in the
// same format (inferred, not configured); golang-jwt verifies a token
// signed by the new key, and a token signed before the rotation still
// verifies with the kept key; the step's kid is the new key's.
func TestRoundTripEveryEncodingAndCurve(t *testing.T) {
	for _, enc := range testEncodings {
		for _, curve := range []string{"P-256", "P-384", "P-521"} {
			t.Run(enc+"/"+curve, func(t *testing.T) {
				dir := t.TempDir()
				oldPriv, old := genKey(t, curve, enc)
				oldToken := sign(t, curve, oldPriv, "issued before")
				writeList(t, filepath.Join(dir, "app.env"), old)
				os.WriteFile(filepath.Join(dir, "pass"), nil, 0o600)
				h := plantest.Load(t, dir, rotatePlan(""), plan.Options{})

				plans, err := h.DryRun(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				a := plans[0].Actions[0]
				wantSummary := fmt.Sprintf("generate a new ECDSA %s key, %s (encoding of entry 1, curve of entry 1)", curve, rotatejwt.Encoding(enc))
				if !strings.HasPrefix(a.Summary, wantSummary) || a.Details[0] != fmt.Sprintf("before: 1. %s (%s)", kid(t, &oldPriv.PublicKey), curve) {
					t.Errorf("plan = %q %q, want %q", a.Summary, a.Details, wantSummary)
				}

				st := h.MustComplete(context.Background())
				list := jwtList(t, filepath.Join(dir, "app.env"))
				if len(list) != 2 || list[1] != old || list[0] == old {
					t.Fatalf("JWT_ECDSA_KEY has %d keys, want new,old with old unchanged", len(list))
				}
				newPriv := decodeKey(t, list[0], enc)
				if got := newPriv.Curve.Params().Name; got != curve {
					t.Fatalf("the new key is on %s, want %s", got, curve)
				}
				if k := plantest.Output(st, "rotate_jwt.signing", "kid"); k != kid(t, &newPriv.PublicKey) {
					t.Errorf("kid output %s, the new key's is %s", k, kid(t, &newPriv.PublicKey))
				}
				verify(t, curve, sign(t, curve, newPriv, "issued after"), &newPriv.PublicKey, "issued after")
				kept := decodeKey(t, list[1], enc)
				verify(t, curve, oldToken, &kept.PublicKey, "issued before")
			})
		}
	}
}

// The step's encoding and curve win over inference; on an empty list
// they choose the format (the defaults are base64 of DER on P-256).
func TestExplicitFormat(t *testing.T) {
	for _, tc := range []struct{ attrs, enc, curve string }{
		{`encoding = "pem"
  curve = "P-521"`, "pem", "P-521"},
		{`curve = "P-384"`, "base64_der", "P-384"},
		{``, "base64_der", "P-256"},
	} {
		dir := t.TempDir()
		writeList(t, filepath.Join(dir, "app.env"))
		os.WriteFile(filepath.Join(dir, "pass"), nil, 0o600)
		plantest.Load(t, dir, rotatePlan(tc.attrs), plan.Options{}).MustComplete(context.Background())
		list := jwtList(t, filepath.Join(dir, "app.env"))
		if len(list) != 1 {
			t.Fatalf("%s: %d keys, want the new one alone", tc.attrs, len(list))
		}
		k := decodeKey(t, list[0], tc.enc)
		if k.Curve.Params().Name != tc.curve {
			t.Errorf("%s: curve %s, want %s", tc.attrs, k.Curve.Params().Name, tc.curve)
		}
		verify(t, tc.curve, sign(t, tc.curve, k, "new"), &k.PublicKey, "new")
	}
}

// plan shows the list before and after by key ID, and the entries keep
// drops; the run drops exactly those.
func TestPlanShowsListByKeyID(t *testing.T) {
	dir := t.TempDir()
	var keys []string
	var kids []string
	for range 3 {
		k, s := genKey(t, "P-256", "base64_der")
		keys, kids = append(keys, s), append(kids, kid(t, &k.PublicKey))
	}
	writeList(t, filepath.Join(dir, "app.env"), keys...)
	os.WriteFile(filepath.Join(dir, "pass"), nil, 0o600)
	h := plantest.Load(t, dir, rotatePlan("keep = 1"), plan.Options{})
	plans, err := h.DryRun(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("before: 1. %s (P-256), 2. %s (P-256), 3. %s (P-256)", kids[0], kids[1], kids[2]),
		fmt.Sprintf("after:  1. <new> (P-256), 2. %s (P-256)", kids[0]),
		fmt.Sprintf("dropped by keep = 1: entry 2 %s (P-256), entry 3 %s (P-256)", kids[1], kids[2]),
	}
	if got := plans[0].Actions[0].Details; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan details:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := h.MustComplete(context.Background())
	if list := jwtList(t, filepath.Join(dir, "app.env")); len(list) != 2 || list[1] != keys[0] {
		t.Fatalf("after the run: %d keys, want new and the first old one", len(list))
	}
	if got := plantest.Output(st, "rotate_jwt.signing", "dropped"); got != kids[1]+","+kids[2] {
		t.Errorf("dropped output %q, want %s,%s", got, kids[1], kids[2])
	}
}

// A list the step cannot extend is refused at plan and at the run's
// preflight, naming the entries by index and format, with nothing
// changed: mixed encodings, an entry that is no key, an explicit encoding
// that differs from the kept entries.
func TestUnusableListsRefused(t *testing.T) {
	_, der1 := genKey(t, "P-256", "base64_der")
	_, pem2 := genKey(t, "P-256", "pem")
	_, der3 := genKey(t, "P-384", "base64_der")
	_, b64pem := genKey(t, "P-256", "base64_pem")
	for _, tc := range []struct {
		name, attrs string
		list        []string
		want        string
	}{
		{"mixed", "", []string{der1, pem2, der3, b64pem},
			"JWT_ECDSA_KEY: unusable JWT key list: the entries mix formats (entries 1, 3: base64 of PKCS#8 DER; entry 2: PEM; entry 4: base64 of PEM)"},
		{"not a key", "", []string{der1, base64.StdEncoding.EncodeToString([]byte("not a key at all")), "%%%"},
			"unusable JWT key list: entry 2: base64 of PKCS#8 DER that is not a PKCS#8 private key; entry 3: neither PEM nor standard base64"},
		{"encoding differs from kept", `encoding = "pem"`, []string{der1},
			`encoding = "pem" (PEM), but the 1 entry keep keeps is base64 of PKCS#8 DER: the list would mix formats`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.env")
			before := writeList(t, path, tc.list...)
			os.WriteFile(filepath.Join(dir, "pass"), nil, 0o600)
			h := plantest.Load(t, dir, rotatePlan(tc.attrs), plan.Options{})
			plans, err := h.DryRun(context.Background())
			if err == nil || plans[0].Err == nil || !strings.Contains(plans[0].Err.Error(), tc.want) || !errors.Is(plans[0].Err, rotatejwt.ErrKeyList) {
				t.Fatalf("plan error = %v, want %q", plans[0].Err, tc.want)
			}
			for _, k := range tc.list {
				if strings.Contains(plans[0].Err.Error(), k) {
					t.Fatal("the error shows key material")
				}
			}
			if r := h.Run(context.Background()); r.Outcome == engine.Completed || !strings.Contains(fmt.Sprint(r.Err), "preflight") {
				t.Errorf("run: %s (%v), want refused at preflight", r.Outcome, r.Err)
			}
			if data, _ := os.ReadFile(path); string(data) != string(before) {
				t.Error("the env file changed")
			}
		})
	}
}

// Unknown encodings and curves are plan errors with the choices.
func TestFormatDiagnostics(t *testing.T) {
	for _, tc := range []struct{ attrs, summary, detail string }{
		{`encoding = "der"`, "Invalid key encoding", `"base64_der" (base64 of PKCS#8 DER), "pem" (PEM), "base64_pem" (base64 of PEM)`},
		{`curve = "secp256k1"`, "Invalid curve", `["P-256" "P-384" "P-521"]`},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "plan.hcl")
		os.WriteFile(path, []byte(rotatePlan(tc.attrs)), 0o600)
		_, diags := plan.Load(path, plan.Options{Environ: []string{}})
		found := false
		for _, d := range diags {
			if d.Summary == tc.summary && strings.Contains(d.Detail, tc.detail) && d.Subject != nil && d.Subject.Start.Line == 4 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: diagnostics %v, want %q holding %q on line 4", tc.attrs, diags, tc.summary, tc.detail)
		}
	}
}

// With Vault alone (no env files), the list is read from the secret at
// plan and run: the new key takes the format of the secret's first entry.
func TestVaultListFormatInferred(t *testing.T) {
	v := testenv.Vault(t)
	oldPriv, old := genKey(t, "P-384", "base64_pem")
	oldToken := sign(t, "P-384", oldPriv, "before")
	kv := v.Client(t).KVv2("secret")
	if _, err := kv.Put(context.Background(), "app/jwt", map[string]any{"JWT_ECDSA_KEY": old}); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`cutover "jwt" {}
variable "token" {
  sensitive = true
}
step "rotate_jwt" "signing" {
  files = []
  vault {
    address = %q
    token   = var.token
    path    = "app/jwt"
  }
}
`, v.Addr)
	h := plantest.Load(t, t.TempDir(), src, plan.Options{Vars: []string{"token=" + v.Token}})
	plans, err := h.DryRun(context.Background())
	if err != nil || !strings.HasPrefix(plans[0].Actions[0].Summary, "generate a new ECDSA P-384 key, base64 of PEM (encoding of entry 1, curve of entry 1)") {
		t.Fatalf("plan: %v %+v", err, plans)
	}
	h.MustComplete(context.Background())
	sec, err := kv.Get(context.Background(), "app/jwt")
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Split(fmt.Sprint(sec.Data["JWT_ECDSA_KEY"]), ",")
	if len(list) != 2 || list[1] != old {
		t.Fatalf("Vault holds %d keys, want new,old", len(list))
	}
	k := decodeKey(t, list[0], "base64_pem")
	verify(t, "P-384", sign(t, "P-384", k, "after"), &k.PublicKey, "after")
	verify(t, "P-384", oldToken, &decodeKey(t, list[1], "base64_pem").PublicKey, "before")
}
