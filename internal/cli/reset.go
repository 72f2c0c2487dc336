package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/shellquote"
)

func resetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "reset",
		Usage:     "archive a finished run's checkpoint so the plan can run again from the start",
		ArgsUsage: "PLAN",
		Flags:     append(varFlags(), stateFlag(), stateURLFlag(), identityFlag()),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, true)
			if err != nil {
				return err
			}
			store, st, err := loadState(c, p)
			if err != nil {
				return err
			}
			if st == nil {
				fmt.Fprintf(e.stdout, "no checkpoint for plan %q in %s: nothing to reset\n", p.Name, stateDirShown(c, p))
				return nil
			}
			if st.Phase != checkpoint.PhaseCompleted && st.Phase != checkpoint.PhaseRolledBack {
				return fail(ExitFailed, fmt.Errorf("run %s is %s, not finished: resetting would forget what it changed", st.RunID, st.Phase),
					"finish it with `cutover run "+p.File+"` or `cutover rollback "+p.File+"` first")
			}
			lock := checkpoint.NewLockInfo("reset", p.Name)
			if err := store.Lock(lock); err != nil {
				return fail(ExitFailed, err, "")
			}
			dest, err := store.Archive()
			if uerr := store.Unlock(lock.ID); uerr != nil {
				return fail(ExitFailed, errors.Join(err, fmt.Errorf("the lock could not be removed: %w", uerr)),
					shellquote.Join("cutover", "unlock", lock.ID, "--state", store.Dir())+"   # once the state directory can be written")
			}
			if err != nil {
				return fail(ExitFailed, err, "")
			}
			fmt.Fprintf(e.stdout, "archived run %s in %s\n", st.RunID, dest)
			return nil
		},
	}
}
