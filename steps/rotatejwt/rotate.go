// Package rotatejwt is the `rotate_jwt` step: generate a new ECDSA P-256
// signing key and make the JWT key list (JWT_ECDSA_KEY by default) "new,old":
// the new key first, so new tokens are signed with it, and the previous
// first `keep` keys after it, so tokens signed before the cutover still
// verify. Keys are base64 of PKCS#8 DER. The list is written to env files
// (one per node, through internal/envedit: identical check, originals saved,
// atomic writes) and optionally to a Vault KV v2 secret, as the Sombra
// runbook recommends a secrets manager. The compensation restores the
// previous list exactly: env files byte for byte, the Vault secret to its
// previous value (or deletes it if the step created it). Key material is
// registered as secret and never printed; the step reports the new key's ID
// (a hash of its public key) only.
package rotatejwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/envedit"
	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "rotate_jwt", Kind: steps.KindChange, Idempotent: true, Decode: decode})
}

// Config is the body of a rotate_jwt step.
type Config struct {
	Files    []string    `hcl:"files"`
	Variable string      `hcl:"variable,optional"`
	Keep     *int        `hcl:"keep,optional"`
	Vault    *VaultBlock `hcl:"vault,block"`
}

// Step rotates a JWT signing key list.
type Step struct {
	paths    []string
	variable string
	keep     int
	vault    *vaultTarget
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	s := &Step{variable: c.Variable, keep: 1}
	for _, f := range c.Files {
		s.paths = append(s.paths, dc.Path(f))
	}
	if s.variable == "" {
		s.variable = "JWT_ECDSA_KEY"
	}
	if c.Keep != nil {
		s.keep = *c.Keep
	}
	bad := func(detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid rotate_jwt", Detail: detail, Subject: body.MissingItemRange().Ptr()})
	}
	if len(c.Files) == 0 && c.Vault == nil && dc.Known(hcldecode.Attributes(body, &c)["files"]) {
		bad("Set files (env files holding the key list) and/or a vault block.")
	}
	if s.keep < 0 || s.keep > 10 {
		bad(fmt.Sprintf("keep is %d; keep from 0 to 10 previous keys.", s.keep))
	}
	if !envfile.ValidKey(s.variable) {
		bad(fmt.Sprintf("variable %q is not a valid environment variable name.", s.variable))
	}
	if c.Vault != nil {
		s.vault = c.Vault.target(dc, s.variable)
	}
	return s, diags
}

func (s *Step) files() *envedit.Files {
	return &envedit.Files{Paths: s.paths, Identical: true, Mask: func(string) bool { return true }}
}

// Plan shows the env diffs (values masked) and what happens in Vault.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	actions := []steps.Action{{Summary: fmt.Sprintf("generate a new ECDSA P-256 key; %s becomes new,<up to %d previous>", s.variable, s.keep)}}
	if len(s.paths) > 0 {
		fa, err := s.files().Plan(func(f *envfile.File) { f.Set(s.variable, "new-key-placeholder") })
		if err != nil {
			return nil, err
		}
		actions = append(actions, fa...)
	}
	if s.vault != nil {
		if err := s.vault.check(ctx); err != nil {
			return nil, err
		}
		actions = append(actions, steps.Action{Summary: "write the list to " + s.vault.describe()})
	}
	return actions, nil
}

// newKey returns a fresh P-256 private key as base64 PKCS#8 DER and its ID.
func newKey() (encoded, kid string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(pub)
	return base64.StdEncoding.EncodeToString(der), hex.EncodeToString(sum[:])[:16], nil
}

// rotated returns "new,previous[0..keep)" from a previous list.
func (s *Step) rotated(newKey, previous string) (list string, kept int) {
	out := []string{newKey}
	for _, k := range strings.Split(previous, ",") {
		if k = strings.TrimSpace(k); k != "" && len(out) <= s.keep {
			out = append(out, k)
		}
	}
	return strings.Join(out, ","), len(out) - 1
}

// Apply generates the key and writes the new list everywhere.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	previous, originals, err := s.previous(ctx, rt)
	if err != nil {
		return err
	}
	key, kid, err := newKey()
	if err != nil {
		return err
	}
	rt.Secrets().Add(key)
	list, kept := s.rotated(key, previous)
	if s.vault != nil {
		if err := s.vault.write(ctx, rt, list); err != nil {
			return err
		}
	}
	if len(s.paths) > 0 {
		if _, err := s.files().Write(rt, originals, func(f *envfile.File) { f.Set(s.variable, list) }); err != nil {
			return err
		}
	}
	rt.SetOutput("kid", kid)
	rt.SetOutput("kept", fmt.Sprint(kept))
	rt.SetSummary(fmt.Sprintf("new signing key %s first, %d previous kept", kid, kept))
	return nil
}

// previous returns the list as it was before the step first ran (from the
// env files' saved originals, else from Vault's saved value), so a re-run
// rotates from the same starting point.
func (s *Step) previous(ctx context.Context, rt steps.Runtime) (string, []envedit.Content, error) {
	var originals []envedit.Content
	if len(s.paths) > 0 {
		var err error
		if originals, err = s.files().Originals(rt); err != nil {
			return "", nil, err
		}
		f, err := envfile.Parse(originals[0].Data)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", s.paths[0], err)
		}
		v, _ := f.Get(s.variable)
		s.registerSecrets(rt, v)
		return v, originals, nil
	}
	v, err := s.vault.previous(ctx, rt)
	s.registerSecrets(rt, v)
	return v, nil, err
}

func (s *Step) registerSecrets(rt steps.Runtime, list string) {
	for _, k := range strings.Split(list, ",") {
		rt.Secrets().Add(strings.TrimSpace(k))
	}
}

// Undo restores the previous list everywhere.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	n, err := envedit.Restore(rt)
	if err != nil {
		return err
	}
	if s.vault != nil {
		if err := s.vault.restore(ctx, rt); err != nil {
			return err
		}
	}
	rt.SetSummary(fmt.Sprintf("previous key list restored (%d file(s) byte for byte)", n))
	return nil
}
