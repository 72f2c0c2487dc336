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
			fmt.Fprintf(e.stdout, "%s is valid: plan %q, %s\n", p.File, p.Name, plural(len(p.Steps), "step"))
			return nil
		},
	}
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
