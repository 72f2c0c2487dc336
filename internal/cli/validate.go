package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func validateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a plan without contacting anything: syntax, types, references, names",
		ArgsUsage: "PLAN",
		Flags:     varFlags(),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, true)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s is valid: plan %q, %d steps\n", p.File, p.Name, len(p.Steps))
			return nil
		},
	}
}
