// Package rotatejwt is the `rotate_jwt` step: generate a new ECDSA signing
// key and make the JWT key list (JWT_ECDSA_KEY by default) "new,old": the
// new key first, so new tokens are signed with it, and the previous first
// `keep` keys after it, so tokens signed before the cutover still verify.
//
//	step "rotate_jwt" "signing" {
//	  files    = ["/etc/default/app"]
//	  keep     = 1             # previous keys kept after the new one (0..10)
//	  encoding = "base64_der"  # or "pem", "base64_pem"; default: the list's first entry's
//	  curve    = "P-256"       # or "P-384", "P-521"; default: the list's first entry's
//	}
//
// The new key is written in the consumer's format: every entry is a PKCS#8
// private key, as base64 of DER, as PEM, or as base64 of PEM (Encodings),
// on one of Curves. Unless the step says, the encoding and curve are those
// of the list's current first entry (base64 of DER on P-256 for an empty
// list). A list the step cannot read is refused at plan and preflight,
// before anything changes: an entry that is no PKCS#8 ECDSA key on those
// curves, entries that mix encodings (named by index and encoding), or an
// explicit encoding that differs from the entries `keep` keeps. `plan`
// shows the list before and after by key ID (the first 16 hex digits of
// the SHA-256 of the public key's PKIX DER), and the entries `keep` drops.
// The list is written to env files
// (one per node, through steps/internal/envedit: identical check, originals saved,
// atomic writes) and optionally to a Vault KV v2 secret, as the Sombra
// runbook recommends a secrets manager. The compensation restores the
// previous list exactly: env files byte for byte, the Vault secret to its
// previous value (or deletes it if the step created it). Key material is
// registered as secret and never printed; the step reports the new key's ID
// (a hash of its public key) only.
package rotatejwt

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/internal/envedit"
)

func init() {
	steps.Register(steps.Type{Name: "rotate_jwt", Doc: "Generates a new ECDSA signing key and makes the JWT key list \"new,old\" in env files and optionally a Vault KV v2 secret; the compensation restores the previous list exactly.", Config: &Config{}, Kind: steps.KindChange, Idempotent: true, Decode: decode})
}

// Config is the body of a rotate_jwt step.
type Config struct {
	Files    []string    `hcl:"files" doc:"The env files holding the key list, one per node; they must be identical. May be empty when a vault block is set."`
	Variable string      `hcl:"variable,optional" default:"\"JWT_ECDSA_KEY\"" doc:"The variable holding the comma-separated key list."`
	Keep     *int        `hcl:"keep,optional" default:"1" doc:"How many previous keys stay after the new one, 0 to 10, so tokens signed before the cutover still verify."`
	Encoding string      `hcl:"encoding,optional" default:"the list's first entry's (\"base64_der\" for an empty list)" doc:"How the new key is written: \"base64_der\" (base64 of PKCS#8 DER), \"pem\" or \"base64_pem\"."` // one of Encodings; "" infers it
	Curve    string      `hcl:"curve,optional" default:"the list's first entry's (\"P-256\" for an empty list)" doc:"The new key's curve: \"P-256\", \"P-384\" or \"P-521\"."`                                               // one of Curves; "" infers it
	Vault    *VaultBlock `hcl:"vault,block" doc:"A Vault KV v2 secret that holds the list too; the compensation restores its previous value (or deletes it if the step created it)."`
}

// Step rotates a JWT signing key list.
type Step struct {
	paths    []string
	variable string
	keep     int
	encoding Encoding // "" when inferred
	curve    string   // "" when inferred
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
	return s, append(diags, s.decodeFormat(c, hcldecode.Attributes(body, &c))...)
}

func (s *Step) files() *envedit.Files {
	return &envedit.Files{Paths: s.paths, Identical: true, Mask: func(string) bool { return true }}
}

// Plan reads the current list, refuses one it cannot extend, and shows
// the key IDs before and after, the env diffs (values masked) and what
// happens in Vault.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	current, err := s.current(ctx, rt)
	if err != nil {
		return nil, err
	}
	r, err := s.rotation(current)
	if err != nil {
		return nil, err
	}
	actions := []steps.Action{r.action(s.variable, s.keep)}
	if len(s.paths) > 0 {
		fa, err := s.files().Plan(ctx, func(f *envfile.File) { f.Set(s.variable, "new-key-placeholder") })
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

// current reads the list as it is now, from the first env file, or from
// Vault when the step has no files (where Apply takes it from).
func (s *Step) current(ctx context.Context, rt steps.Runtime) (string, error) {
	if len(s.paths) == 0 {
		v, _, err := s.vault.current(ctx)
		s.registerSecrets(rt, v)
		return v, err
	}
	contents, err := s.files().Read(ctx)
	if err != nil {
		return "", err
	}
	f, err := envfile.Parse(contents[0].Data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.paths[0], err)
	}
	v, _ := f.Get(s.variable)
	s.registerSecrets(rt, v)
	return listFromEnv(v), nil
}

// rotated returns "new,previous[0..keep)" from a previous list.
func (s *Step) rotated(newKey, previous string) (list string, kept int) {
	prev := splitList(previous)
	out := append([]string{newKey}, prev[:min(s.keep, len(prev))]...)
	return strings.Join(out, ","), len(out) - 1
}

// Apply generates the key in the list's format and writes the new list
// everywhere.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	previous, originals, err := s.previous(ctx, rt)
	if err != nil {
		return err
	}
	r, err := s.rotation(previous)
	if err != nil {
		return err
	}
	key, fresh, err := newKey(r.choice.Curve, r.choice.Encoding)
	if err != nil {
		return err
	}
	rt.Secrets().Add(key)
	rt.Secrets().Add(listToEnv(key))
	r.after[0] = fresh
	list, kept := s.rotated(key, previous)
	if s.vault != nil {
		if err := s.vault.write(ctx, rt, list); err != nil {
			return err
		}
	}
	if len(s.paths) > 0 {
		if _, err := s.files().Write(ctx, rt, originals, func(f *envfile.File) { f.Set(s.variable, listToEnv(list)) }); err != nil {
			return err
		}
	}
	r.outputs(rt, kept)
	return nil
}

// previous returns the list as it was before the step first ran (from the
// env files' saved originals, else from Vault's saved value), so a re-run
// rotates from the same starting point.
func (s *Step) previous(ctx context.Context, rt steps.Runtime) (string, []envedit.Content, error) {
	var originals []envedit.Content
	if len(s.paths) > 0 {
		var err error
		if originals, err = s.files().Originals(ctx, rt); err != nil {
			return "", nil, err
		}
		f, err := envfile.Parse(originals[0].Data)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", s.paths[0], err)
		}
		v, _ := f.Get(s.variable)
		s.registerSecrets(rt, v)
		return listFromEnv(v), originals, nil
	}
	v, err := s.vault.previous(ctx, rt)
	s.registerSecrets(rt, v)
	return v, nil, err
}

func (s *Step) registerSecrets(rt steps.Runtime, list string) {
	for _, k := range strings.Split(list, ",") {
		k = strings.TrimSpace(k)
		rt.Secrets().Add(k)
		rt.Secrets().Add(listFromEnv(k)) // a PEM entry as it stands in the file and as a key
	}
}

// Undo restores the previous list everywhere.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error {
	res, err := s.files().Restore(ctx, rt)
	if err != nil {
		return err
	}
	if s.vault != nil {
		if err := s.vault.restore(ctx, rt); err != nil {
			return err
		}
	}
	rt.SetSummary("previous key list restored (" + res.String() + ")")
	return nil
}

// listToEnv is how a key list stands in an env file: a PEM entry's newlines
// as the two characters \n (what systemd hands the service from "...\n..."
// in double quotes; an env file cannot hold a newline), which the app turns
// back into newlines. Base64 lists hold no newline and pass unchanged.
func listToEnv(list string) string { return strings.ReplaceAll(list, "\n", `\n`) }

// listFromEnv undoes listToEnv.
func listFromEnv(v string) string { return strings.ReplaceAll(v, `\n`, "\n") }
