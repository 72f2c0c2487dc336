package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/shellquote"
	"github.com/cutover/cutover/plan"
)

func varFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "var", Usage: "set a variable: `NAME=VALUE` (repeatable)"},
		&cli.StringSliceFlag{Name: "var-file", Usage: "read variables from an HCL `FILE` (repeatable)"},
	}
}

func stateFlag() cli.Flag {
	return &cli.StringFlag{Name: "state", Usage: "state `DIR` (default .cutover/<plan name> beside the plan)"}
}

// preflightFlag is --preflight-timeout, the bound of each step's read-only
// preflight when the step sets no timeout.
func preflightFlag() cli.Flag {
	return &cli.DurationFlag{Name: "preflight-timeout", Value: engine.DefaultPreflightTimeout,
		Usage: "bound the preflight of each step without a `timeout` (a step's timeout bounds its own)"}
}

// ignoreWindowFlag is --ignore-window: run a plan whose window is shorter
// than its own estimate.
func ignoreWindowFlag() cli.Flag {
	return &cli.BoolFlag{Name: "ignore-window", Usage: "run even if the window is shorter than the plan's estimate, and do not roll back when the rest of the run is expected to overrun it"}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print one JSON event per line"}
}

// planArg returns the single plan file argument.
func planArg(c *cli.Context) (string, error) {
	switch c.NArg() {
	case 1:
		return c.Args().First(), nil
	case 0:
		return "", fail(ExitUsage, fmt.Errorf("%s needs a plan file", c.Command.Name), fmt.Sprintf("cutover %s plan.hcl", c.Command.Name))
	}
	return "", fail(ExitUsage, fmt.Errorf("%s takes one plan file, got %d arguments", c.Command.Name, c.NArg()), fmt.Sprintf("cutover %s plan.hcl", c.Command.Name))
}

// loadPlan loads the plan named on the command line and prints its
// diagnostics (warnings too). Errors make it return an exit-2 error.
func loadPlan(c *cli.Context, e *env, validating bool) (*plan.Plan, error) {
	path, err := planArg(c)
	if err != nil {
		return nil, err
	}
	p, diags := plan.Load(path, plan.Options{Vars: c.StringSlice("var"), VarFiles: c.StringSlice("var-file"), Validating: validating})
	if len(diags) > 0 {
		writeDiagnostics(p.Secrets.Writer(e.stderr), planSnippets(p), diags)
	}
	if diags.HasErrors() {
		hint := "fix the problems above; `cutover validate " + path + "` checks the plan without contacting anything"
		if c.Command.Name == "validate" {
			hint = "fix the problems above"
		}
		return p, fail(ExitUsage, fmt.Errorf("%s has %s", path, countErrors(diags)), hint)
	}
	return p, nil
}

func countErrors(diags hcl.Diagnostics) string {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	if n == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", n)
}

// planSnippets are the files whose source diagnostics may quote: the plan
// file only. A var file is where secrets are kept, often a shared one whose
// values for other plans are not in this plan's secret set: a warning about
// one of them must name the line, never print it.
func planSnippets(p *plan.Plan) map[string]*hcl.File {
	if f, ok := p.Files[p.File]; ok {
		return map[string]*hcl.File{p.File: f}
	}
	return nil
}

// writeDiagnostics prints each diagnostic as "Error: FILE:LINE:COL: Summary"
// followed by hcl's source snippet (only for files in files) and the detail.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	dw := hcl.NewDiagnosticTextWriter(w, files, 100, false)
	for _, d := range diags {
		located := *d
		if d.Subject != nil {
			located.Summary = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
			if files[d.Subject.Filename] == nil {
				located.Subject, located.Context, located.Expression = nil, nil, nil
			}
		}
		_ = dw.WriteDiagnostic(&located)
	}
}

// stateDir is --state, or .cutover/<plan name> beside the plan file
// (checkpoint.DefaultDir, which refuses a name that could escape it).
func stateDir(c *cli.Context, p *plan.Plan) (string, error) {
	if d := c.String("state"); d != "" {
		return d, nil
	}
	d, err := checkpoint.DefaultDir(p.Dir, p.Name)
	if err != nil {
		return "", fail(ExitUsage, err, "name the plan with a cutover \"<name>\" block; `cutover validate "+p.File+"` checks it")
	}
	return d, nil
}

// stateDirShown is stateDir for messages printed after loadState or
// openStore accepted it.
func stateDirShown(c *cli.Context, p *plan.Plan) string {
	if d, err := stateDir(c, p); err == nil {
		return d
	}
	return "(no valid state directory)"
}

// openStore opens (creating) the plan's state directory for run and
// rollback, and claims it for the plan file: a directory another plan file
// uses is refused.
func openStore(c *cli.Context, p *plan.Plan) (*checkpoint.Store, error) {
	dir, err := stateDir(c, p)
	if err != nil {
		return nil, err
	}
	o, err := storeOptions(c, p)
	if err != nil {
		return nil, err
	}
	st, err := checkpoint.Open(dir)
	if err != nil {
		return nil, fail(ExitFailed, err, "check that the state directory is writable, or choose another with --state")
	}
	st.Use(o)
	if err := st.Claim(p.Name, p.File); err != nil {
		return nil, stateError(c, p, err)
	}
	return st, nil
}

// loadState opens the plan's state directory read-only and loads its
// checkpoint; st is nil (and err nil) when the plan has never run.
func loadState(c *cli.Context, p *plan.Plan) (*checkpoint.Store, *checkpoint.State, error) {
	dir, err := stateDir(c, p)
	if err != nil {
		return nil, nil, err
	}
	o, err := storeOptions(c, p)
	if err != nil {
		return nil, nil, err
	}
	var store *checkpoint.Store
	if o.Remote != nil {
		store, err = pullShared(c, dir, o)
		if err != nil {
			return nil, nil, err
		}
	} else {
		store, err = checkpoint.OpenExisting(dir)
		if err == nil {
			store.Use(o)
		}
	}
	var st *checkpoint.State
	if err == nil {
		err = store.CheckOwner(p.File)
	}
	if err == nil {
		if fb := store.Fallbacks(); len(fb) > 0 {
			return nil, nil, fail(ExitFailed, fmt.Errorf("a run could not write %s and left its record in %s: %s/state.json is out of date", dir, fb[0], dir),
				fmt.Sprintf("read %s; once %s can be written again:\ncutover: hint: %s", fb[0], dir, shellquote.Join("mv", fb[0], dir+"/state.json")))
		}
		st, err = store.Load()
	}
	if errors.Is(err, checkpoint.ErrNoState) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, stateError(c, p, err)
	}
	return store, st, nil
}

// stateError is the CLI error for a state directory that cannot be used,
// with what to do about it.
func stateError(c *cli.Context, p *plan.Plan, err error) error {
	var other *checkpoint.OtherPlanError
	switch {
	case errors.As(err, &other):
		return fail(ExitFailed, err, fmt.Sprintf("give this plan its own state directory: cutover %s --state DIR %s\n"+
			"cutover: hint: or give one of the two plans another name (cutover \"<name>\"); nothing was changed", c.Command.Name, p.File))
	case sharedError(nil, err) != nil && !errors.Is(err, checkpoint.ErrStoreUnavailable):
		return sharedError(nil, err)
	case errors.Is(err, checkpoint.ErrCorrupt):
		return fail(ExitFailed, err, "cutover does not act on a checkpoint that fails its check, and changed nothing.\n"+
			"cutover: hint: if it was edited by hand, put it back as it was; otherwise restore the state directory from a backup,\n"+
			"cutover: hint: or check by hand what the run changed, then move the state directory aside and start again")
	}
	return fail(ExitFailed, err, "")
}

// hintArgs are the flags a pasted hint needs besides the plan file: --state
// as given, var files by path, -var with non-sensitive values; sensitive
// -var values are named, never repeated.
func hintArgs(c *cli.Context, p *plan.Plan) engine.HintArgs {
	h := engine.HintArgs{State: c.String("state")}
	for _, f := range c.StringSlice("var-file") {
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		}
		h.Inputs = append(h.Inputs, "-var-file", f)
	}
	sensitive := map[string]bool{}
	for _, v := range p.Variables {
		sensitive[v.Name] = v.Sensitive
	}
	for _, kv := range c.StringSlice("var") {
		name, _, _ := strings.Cut(kv, "=")
		if sensitive[name] {
			h.Sensitive = append(h.Sensitive, name)
			continue
		}
		h.Inputs = append(h.Inputs, "-var", kv)
	}
	return h
}
