package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's positional arguments after its flags, so
// `cutover run plan.hcl -var x=1` works like `cutover run -var x=1 plan.hcl`
// (urfave/cli v2 stops parsing flags at the first positional argument). A
// "--" ends the flags as usual.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	head := 2
	for len(cmd.Subcommands) > 0 && head < len(args) {
		sub := cmd.Command(args[head])
		if sub == nil {
			return args
		}
		cmd, head = sub, head+1
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	rest := args[head:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] {
			if i+1 == len(rest) {
				// The last argument is a flag that wants a value: end with
				// it, so the parser says "flag needs an argument" rather than
				// take the "--" added below, or the plan, as its value.
				return append(append([]string{}, args[:head]...), flags...)
			}
			flags = append(flags, rest[i+1])
			i++
		}
	}
	out := append(append([]string{}, args[:head]...), flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}
