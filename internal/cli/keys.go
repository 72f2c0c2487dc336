package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/plan"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keybackup"
	"github.com/cutover/cutover/providers/keyops"
)

func keysCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "work with key backups",
		Subcommands: []*cli.Command{{
			Name:      "restore",
			Usage:     "restore a backup made by backup_keys into a key store declared in a plan",
			ArgsUsage: "BACKUP",
			Flags: append(varFlags(),
				&cli.StringFlag{Name: "plan", Usage: "the plan `FILE` that declares the target kms block (required)"},
				&cli.StringFlag{Name: "to", Usage: "the target, as in the plan: `kms.NAME` (required)"},
				&cli.StringFlag{Name: "identity", Usage: "age identity `FILE` that decrypts the backup"},
				&cli.StringFlag{Name: "passphrase-env", Usage: "environment `VARIABLE` holding the backup's passphrase"},
			),
			Action: func(c *cli.Context) error { return restore(c, e) },
		}},
	}
}

const restoreUsage = "cutover keys restore --plan plan.hcl --to kms.vault --identity ops.key backups/keys.age"

func restore(c *cli.Context, e *env) error {
	switch {
	case c.NArg() != 1:
		return fail(ExitUsage, fmt.Errorf("keys restore takes one backup file, got %d arguments", c.NArg()), restoreUsage)
	case c.String("plan") == "" || c.String("to") == "":
		return fail(ExitUsage, errors.New("keys restore needs --plan FILE and --to kms.NAME: the key store to restore into"), restoreUsage)
	}
	// Only the target's kms block matters: variables the steps need may be
	// left unset (validation mode), the target's own must be given.
	p, diags := plan.Load(c.String("plan"), plan.Options{Vars: c.StringSlice("var"), VarFiles: c.StringSlice("var-file"), Validating: true})
	if diags.HasErrors() {
		writeDiagnostics(p.Secrets.Writer(e.stderr), planSnippets(p), diags)
		return fail(ExitUsage, fmt.Errorf("%s has %s", c.String("plan"), countErrors(diags)), "fix the problems above; only the --to kms block and the variables it uses need values")
	}
	cfg, ok := p.Systems[c.String("to")].(providers.KeyStoreConfig)
	if !ok {
		return fail(ExitUsage, fmt.Errorf("%s declares no key store %s", c.String("plan"), c.String("to")), keyStoresHint(p))
	}
	ids, err := identities(c)
	if err != nil {
		return fail(ExitUsage, err, "")
	}
	store, err := keyops.Open(c.Context, cfg)
	if err != nil {
		return fail(ExitFailed, err, "")
	}
	return restoreInto(c, e, store, c.Args().First(), ids)
}

func identities(c *cli.Context) ([]age.Identity, error) {
	if v := c.String("passphrase-env"); v != "" {
		pass, ok := os.LookupEnv(v)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", v)
		}
		id, err := age.NewScryptIdentity(pass)
		return []age.Identity{id}, err
	}
	if c.String("identity") == "" {
		return nil, errors.New("give --identity FILE or --passphrase-env VARIABLE to decrypt the backup")
	}
	f, err := os.Open(c.String("identity"))
	if err != nil {
		return nil, fmt.Errorf("--identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("--identity %s: %w", c.String("identity"), err)
	}
	return ids, nil
}

// keyStoresHint names the plan's key stores, for a --to that is not one.
func keyStoresHint(p *plan.Plan) string {
	var names []string
	for ref, sys := range p.Systems {
		if _, ok := sys.(providers.KeyStoreConfig); ok {
			names = append(names, ref)
		}
	}
	if len(names) == 0 {
		return "--to names a kms block of the plan, and this plan has none"
	}
	sort.Strings(names)
	return "--to names a kms block of the plan: " + strings.Join(names, ", ")
}

// restoreInto checks the whole backup first, then creates each key; a key
// already there with the same material is skipped, a different one stops
// the restore without touching it.
func restoreInto(c *cli.Context, e *env, store providers.KeyStore, path string, ids []age.Identity) error {
	read := func(fn func(string, providers.Key) error) (keybackup.Summary, error) {
		f, err := os.Open(path)
		if err != nil {
			return keybackup.Summary{}, err
		}
		defer f.Close()
		return keybackup.Read(f, fn, ids...)
	}
	total, err := read(nil)
	if err != nil {
		return fail(ExitFailed, err, "nothing was restored")
	}
	created, skipped := 0, 0
	sum, err := read(func(name string, k providers.Key) error {
		err := store.Create(c.Context, name, k)
		if errors.Is(err, providers.ErrKeyExists) {
			if verr := keyops.Verify(c.Context, store, name, k); verr != nil {
				return fmt.Errorf("key %s exists at the target and differs or cannot be compared: %w", name, verr)
			}
			skipped++
			return nil
		}
		if err == nil {
			created++
			err = keyops.Verify(c.Context, store, name, k)
		}
		return err
	})
	if err != nil {
		return fail(ExitFailed, fmt.Errorf("restore stopped after %d of %d keys (%d created, %d already there and identical): %w", created+skipped, total.Count, created, skipped, err),
			"the keys restored so far stay; fix the cause and run the restore again (it skips identical keys)")
	}
	fmt.Fprintf(e.stdout, "restored %d keys into %s (%d created, %d already there and identical); backup digest %.12s\n", sum.Count, store.Name(), created, skipped, sum.Digest)
	return nil
}
