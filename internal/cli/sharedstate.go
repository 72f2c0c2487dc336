package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/plan"
)

// identityEnv names the environment variable that gives the age identity
// file when --identity is not given.
const identityEnv = "CUTOVER_IDENTITY"

func stateURLFlag() cli.Flag {
	return &cli.StringFlag{Name: "state-url", Usage: "keep the checkpoint and lock in shared storage: `s3://BUCKET/PREFIX?endpoint=URL&region=R&ca_file=PATH` (overrides the plan's state block; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws)"}
}

func identityFlag() cli.Flag {
	return &cli.StringFlag{Name: "identity", EnvVars: []string{identityEnv}, Usage: "age identity `FILE` that opens the checkpoint's encrypted undo data (rollback and resume need it when the plan's state block lists recipients)"}
}

// storeOptions are the shared store and encryption the plan's state block
// and --state-url / --identity ask for.
func storeOptions(c *cli.Context, p *plan.Plan) (checkpoint.Options, error) {
	var o checkpoint.Options
	sc := p.State
	if sc == nil {
		sc = &plan.StateConfig{Type: "local"}
	}
	s3 := sc.S3
	if u := c.String("state-url"); u != "" {
		cfg, err := checkpoint.ParseStateURL(u)
		if err != nil {
			return o, fail(ExitUsage, err, "for example --state-url 's3://cutover-state/prod?endpoint=https://minio.example:9000'")
		}
		s3, sc = cfg, &plan.StateConfig{Type: "s3", Recipients: sc.Recipients, OnUnavailable: sc.OnUnavailable, WaitTimeout: sc.WaitTimeout, Timeout: sc.Timeout}
	}
	if sc.Type == "s3" {
		b, err := checkpoint.NewS3(s3, p.Name)
		if err != nil {
			return o, fail(ExitUsage, err, "check the state block or --state-url")
		}
		o.Remote = &checkpoint.Remote{Backend: b, Timeout: sc.Timeout, OnUnavailable: sc.OnUnavailable, WaitTimeout: sc.WaitTimeout}
	}
	recips, err := checkpoint.ParseRecipients(sc.Recipients)
	if err != nil {
		return o, fail(ExitUsage, err, "")
	}
	o.Crypt = &checkpoint.Crypt{Recipients: recips, IdentityHint: "--identity FILE or " + identityEnv + "=FILE"}
	if f := c.String("identity"); f != "" {
		ids, err := checkpoint.ReadIdentityFile(f)
		if err != nil {
			return o, fail(ExitUsage, err, "give the file age-keygen wrote (AGE-SECRET-KEY-1...)")
		}
		o.Crypt.Identities = ids
	}
	return o, nil
}

// sharedError is the CLI error for a shared store that cannot be used.
func sharedError(store *checkpoint.Store, err error) error {
	switch {
	case errors.Is(err, checkpoint.ErrStoreUnavailable):
		return fail(ExitFailed, err, fmt.Sprintf("check that %s is reachable and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) are right; nothing was changed", store.Shared()))
	case errors.Is(err, checkpoint.ErrNoIdentity), errors.Is(err, checkpoint.ErrWrongIdentity):
		return fail(ExitFailed, err, "pass --identity FILE (or set "+identityEnv+"=FILE) with the age identity of a recipient the plan's state block lists")
	}
	return nil
}

// pullShared reads a shared checkpoint without the lock into a temporary
// directory, removed when the command ends; a local copy with writes the
// store has not got (the store went away) is read instead, as it is newer.
func pullShared(c *cli.Context, dir string, o checkpoint.Options) (*checkpoint.Store, error) {
	if local, err := checkpoint.OpenExisting(dir); err == nil {
		local.Use(o)
		if local.Pending() {
			return local, nil
		}
	}
	tmp, err := os.MkdirTemp("", "cutover-shared-")
	if err != nil {
		return nil, fail(ExitFailed, err, "")
	}
	cleanupLater(c, func() { os.RemoveAll(tmp) })
	store, err := checkpoint.Open(tmp)
	if err != nil {
		return nil, fail(ExitFailed, err, "")
	}
	store.Use(o)
	if err := store.Pull(); err != nil {
		if e := sharedError(store, err); e != nil {
			return nil, e
		}
		return nil, fail(ExitFailed, err, "")
	}
	return store, nil
}

// cleanupLater registers fn to run when Main returns.
func cleanupLater(c *cli.Context, fn func()) {
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	fns, _ := c.App.Metadata["cleanup"].([]func())
	c.App.Metadata["cleanup"] = append(fns, fn)
}

// runCleanups runs what cleanupLater registered.
func runCleanups(app *cli.App) {
	fns, _ := app.Metadata["cleanup"].([]func())
	for _, fn := range fns {
		fn()
	}
}
