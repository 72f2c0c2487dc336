package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/plan"
)

func unlockCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "unlock",
		Usage:     "remove a stale lock, by its ID only (as printed when a run is refused)",
		ArgsUsage: "LOCK_ID [PLAN]",
		Flags:     append(varFlags(), stateFlag(), stateURLFlag(), identityFlag()),
		Action: func(c *cli.Context) error {
			const usage = "cutover unlock LOCK_ID [PLAN]   (the ID is in the message that refused the run, and in `cutover status`)"
			switch {
			case c.NArg() == 0:
				return fail(ExitUsage, errors.New("unlock needs the lock's ID"), usage)
			case c.NArg() > 2:
				return fail(ExitUsage, fmt.Errorf("unlock takes a lock ID and at most one plan file, got %d arguments", c.NArg()), usage)
			}
			if done, err := unlockShared(c, e); done || err != nil {
				return err
			}
			dirs, err := lockDirs(c, e)
			if err != nil {
				return err
			}
			return unlock(e, c.Args().First(), dirs)
		},
	}
}

// lockDirs are the state directories to look in: --state, the plan's, or
// every .cutover/* under the current directory.
func lockDirs(c *cli.Context, e *env) ([]string, error) {
	if d := c.String("state"); d != "" {
		return []string{d}, nil
	}
	if c.NArg() == 2 {
		p, diags := plan.Load(c.Args().Get(1), plan.Options{Validating: true, Vars: c.StringSlice("var"), VarFiles: c.StringSlice("var-file")})
		if diags.HasErrors() {
			writeDiagnostics(p.Secrets.Writer(e.stderr), planSnippets(p), diags)
			return nil, fail(ExitUsage, fmt.Errorf("cannot read %s", c.Args().Get(1)), "")
		}
		d, err := checkpoint.DefaultDir(p.Dir, p.Name)
		if err != nil {
			return nil, fail(ExitUsage, err, "")
		}
		return []string{d}, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(".cutover", "*"))
	return dirs, nil
}

func unlock(e *env, id string, dirs []string) error {
	for _, d := range dirs {
		store, err := checkpoint.OpenExisting(d)
		if err != nil {
			continue
		}
		err = store.Unlock(id)
		switch {
		case err == nil:
			fmt.Fprintf(e.stdout, "removed lock %s from %s\n", id, d)
			return nil
		case errors.Is(err, checkpoint.ErrLockMismatch):
			return fail(ExitFailed, fmt.Errorf("lock in %s: %w", d, err), "pass the exact ID shown by `cutover status`; a lock is only removed by its own ID")
		}
	}
	return fail(ExitFailed, fmt.Errorf("no lock with ID %s found", id), "give the plan or --state DIR so cutover knows which state directory to look in")
}

// unlockShared removes the lock of a plan whose state is shared (its state
// block or --state-url); done is false for a local state directory.
func unlockShared(c *cli.Context, e *env) (done bool, err error) {
	if c.NArg() != 2 && c.String("state-url") == "" {
		return false, nil
	}
	if c.NArg() != 2 {
		return true, fail(ExitUsage, errors.New("unlock with --state-url needs the plan file (its name locates the state in the store)"), "cutover unlock LOCK_ID PLAN --state-url URL")
	}
	p, diags := plan.Load(c.Args().Get(1), plan.Options{Validating: true, Vars: c.StringSlice("var"), VarFiles: c.StringSlice("var-file")})
	if diags.HasErrors() {
		writeDiagnostics(p.Secrets.Writer(e.stderr), planSnippets(p), diags)
		return true, fail(ExitUsage, fmt.Errorf("cannot read %s", c.Args().Get(1)), "")
	}
	o, err := storeOptions(c, p)
	if err != nil || o.Remote == nil {
		return err != nil, err
	}
	tmp, err := os.MkdirTemp("", "cutover-unlock-")
	if err != nil {
		return true, fail(ExitFailed, err, "")
	}
	defer os.RemoveAll(tmp)
	store, err := checkpoint.OpenExisting(tmp)
	if err != nil {
		return true, fail(ExitFailed, err, "")
	}
	store.Use(o)
	id := c.Args().First()
	switch err := store.Unlock(id); {
	case err == nil:
		fmt.Fprintf(e.stdout, "removed lock %s from %s\n", id, store.Shared())
		return true, nil
	case errors.Is(err, checkpoint.ErrLockMismatch):
		return true, fail(ExitFailed, fmt.Errorf("lock in %s: %w", store.Shared(), err), "pass the exact ID shown by `cutover status`; a lock is only removed by its own ID")
	case errors.Is(err, checkpoint.ErrNotLocked):
		return true, fail(ExitFailed, fmt.Errorf("no lock with ID %s found in %s", id, store.Shared()), "")
	default:
		if e := sharedError(store, err); e != nil {
			return true, e
		}
		return true, fail(ExitFailed, err, "")
	}
}
