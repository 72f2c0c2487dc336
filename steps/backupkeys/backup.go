// Package backupkeys is the `backup_keys` step: export every key matching a
// pattern from a key store into one age-encrypted file with a manifest of
// names and SHA-256 checksums (providers/keybackup), then decrypt that file
// again and check every key against the source before the step succeeds — a
// backup that has not been restored is not a backup.
//
// Encryption is to age recipients (public keys) or a passphrase (from a
// sensitive variable). To verify a recipients-only backup without the
// operators' private key, cutover adds a one-time identity as an extra
// recipient, verifies with it, and forgets it; with identity_file set it
// verifies with the operators' identity instead. The file is written to a
// temporary name and renamed into place, so a crash never leaves half a
// backup under the final name. The backup stays after a rollback.
package backupkeys

import (
	"context"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keyops"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "backup_keys", Doc: "Exports every key matching a pattern into one age-encrypted file with a manifest of names and SHA-256 checksums, then decrypts it and checks every key against the source. The backup stays after a rollback.", Config: &Config{}, Kind: steps.KindNone, Idempotent: true, Decode: decode})
}

// Config is the body of a backup_keys step.
type Config struct {
	From         hcl.Expression `hcl:"from" type:"reference to kms.<name>" doc:"The key store to back up."`
	Pattern      string         `hcl:"pattern,optional" default:"\"*\"" doc:"Which key names to back up: a glob (* and ? wildcards)."`
	To           string         `hcl:"to" doc:"The backup file; relative to the plan's directory. Written under a temporary name and renamed into place."`
	Recipients   []string       `hcl:"recipients,optional" doc:"age public keys (age1...) to encrypt to; set this or passphrase."`
	Passphrase   string         `hcl:"passphrase,optional" sensitive:"true" doc:"An age passphrase to encrypt with (from a sensitive variable); set this or recipients."`
	IdentityFile string         `hcl:"identity_file,optional" doc:"An age identity file to verify the backup with; without it cutover adds a one-time identity as an extra recipient and forgets it after the check."`
	Overwrite    bool           `hcl:"overwrite,optional" default:"false" doc:"Whether an existing file at to may be replaced; otherwise the plan refuses it."`
}

// Step backs up keys.
type Step struct {
	Config
	from       providers.KeyStoreConfig
	recipients []age.Recipient
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{}
	diags := dc.DecodeBody(body, &s.Config)
	var d hcl.Diagnostics
	s.from, d = keyops.ResolveStore(dc, s.Config.From, "from")
	diags = append(diags, d...)
	s.To, s.IdentityFile = dc.Path(s.To), dc.Path(s.IdentityFile)
	if s.Pattern == "" {
		s.Pattern = "*"
	}
	if dc.Validating && len(s.Recipients) == 0 && s.Passphrase == "" {
		return s, diags // inputs may be unknown
	}
	diags = append(diags, s.parseRecipients(body)...)
	return s, diags
}

func (s *Step) parseRecipients(body hcl.Body) hcl.Diagnostics {
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid backup encryption", Detail: detail, Subject: body.MissingItemRange().Ptr()}}
	}
	switch {
	case len(s.Recipients) > 0 && s.Passphrase != "":
		return bad("Set recipients or passphrase, not both: age cannot mix a passphrase with other recipients.")
	case len(s.Recipients) == 0 && s.Passphrase == "":
		return bad("A backup must be encrypted: set recipients (age public keys, e.g. [file(\"ops.pub\")]) or passphrase (a sensitive variable).")
	case s.Passphrase != "":
		r, err := age.NewScryptRecipient(s.Passphrase)
		if err != nil {
			return bad("The passphrase cannot be used: " + err.Error() + ".")
		}
		s.recipients = []age.Recipient{r}
		return nil
	}
	rs, err := age.ParseRecipients(strings.NewReader(strings.Join(s.Recipients, "\n")))
	if err != nil {
		return bad(fmt.Sprintf("recipients must be age public keys (age1...): %v.", err))
	}
	s.recipients = rs
	return nil
}

// Plan counts the keys and checks the destination.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.from == nil {
		return nil, fmt.Errorf("the step's key store has errors")
	}
	src, err := keyops.Open(ctx, s.from)
	if err != nil {
		return nil, err
	}
	n, err := keyops.Count(ctx, src, s.Pattern)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.To); err == nil && !s.Overwrite {
		return nil, fmt.Errorf("%s already exists; choose another name or set overwrite = true", s.To)
	}
	return []steps.Action{
		{Summary: fmt.Sprintf("back up %d keys matching %q of %s to %s, age-encrypted to %s", n, s.Pattern, s.from.Describe(), s.To, s.encryptedTo())},
		{Summary: "then decrypt the backup and check every key against the source"},
	}, nil
}

func (s *Step) encryptedTo() string {
	if s.Passphrase != "" {
		return "a passphrase"
	}
	return fmt.Sprintf("%d recipient(s)", len(s.Recipients))
}

// Undo does nothing: a backup is kept after a rollback.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
