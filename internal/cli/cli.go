// Package cli is cutover's command line: one file per command, each turning
// flags into a request to the plan, engine and checkpoint packages and handing
// the outcome to one renderer. Exit codes: 0 success, 1 a failed run or
// refused operation, 2 a usage or plan error, 3 a run that failed and rolled
// back. Errors print as "cutover: error: ..." with a "cutover: hint: ..." line.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cutover/cutover/internal/suggest"
	"github.com/cutover/cutover/internal/termsafe"
	_ "github.com/cutover/cutover/providers/all" // every system backend
	_ "github.com/cutover/cutover/steps/all"     // every step type
)

// Exit codes.
const (
	ExitOK         = 0
	ExitFailed     = 1
	ExitUsage      = 2
	ExitRolledBack = 3
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// exitError carries an exit code and an optional hint up to Main.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func fail(code int, err error, hint string) error {
	return &exitError{code: code, err: err, hint: hint}
}

// Main runs cutover with args (args[0] is the program name) and returns the
// exit code. It never panics: a panic is reported as an internal error.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "cutover: error: internal error: %v\ncutover: hint: this is a bug in cutover; the checkpoint is still valid, see `cutover status`\n", r)
			code = ExitFailed
		}
	}()
	silenceLibraries()
	con := newConsole(stdout, stderr)
	defer func() { con.endEvents(code) }()
	stderr = con.stderr
	defer watchHangup(con)()
	app := newApp(stdin, con)
	defer runCleanups(app)
	err := app.Run(interspersed(app, args))
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "cutover: error: %s\n", termsafe.String(ee.err.Error()))
		}
		if ee.hint != "" {
			fmt.Fprintf(stderr, "cutover: hint: %s\n", ee.hint)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "cutover: error: %s\ncutover: hint: run `cutover --help` for usage\n", err)
	return ExitUsage
}

// silenceLibraries discards what third-party libraries write through the
// standard library's default logger (madmin-go does): such a line would
// reach stderr unformatted and unmasked. cutover itself never uses it; the
// AWS SDK's logger is turned off where its config is built.
func silenceLibraries() {
	log.SetOutput(io.Discard)
}

func newApp(stdin io.Reader, con *console) *cli.App {
	env := &env{stdin: stdin, stdout: con.stdout, stderr: con.stderr, con: con}
	app := &cli.App{
		Name:                      "cutover",
		Usage:                     "move encryption keys between KMSs inside a maintenance window, from a reviewed HCL runbook",
		Version:                   Version,
		Reader:                    stdin,
		Writer:                    con.stdout,
		ErrWriter:                 con.stderr,
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError:              usageError,
		Action:                    unknownCommand,
		Commands: []*cli.Command{
			validateCommand(env), planCommand(env), runCommand(env), rollbackCommand(env),
			statusCommand(env), unlockCommand(env), resetCommand(env), keysCommand(env), rehearseCommand(env), reportCommand(env),
		},
	}
	for _, c := range app.Commands {
		setUsage(c, c.Name)
	}
	app.CustomAppHelpTemplate = cli.AppHelpTemplate + examplesText(examples[""])
	return app
}

// setUsage makes every command report its usage errors the cutover way
// (error, hint, exit 2) instead of urfave/cli's "Incorrect Usage" and a help
// page on stdout, hides the "help" subcommand urfave/cli would add, and
// adds the EXAMPLES of the command at path ("keys restore") to its help.
func setUsage(c *cli.Command, path string) {
	c.OnUsageError = usageError
	c.HideHelpCommand = true
	setExamples(c, path)
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = unknownCommand
	}
	for _, sub := range c.Subcommands {
		setUsage(sub, path+" "+sub.Name)
	}
}

func usageError(c *cli.Context, err error, _ bool) error {
	name := commandName(c)
	msg := err.Error()
	if flag, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = fmt.Sprintf("unknown flag %s for %s", flag, name)
	} else {
		msg = name + ": " + msg
	}
	return fail(ExitUsage, errors.New(msg), "`"+name+" --help` lists its flags")
}

// unknownCommand is the action of cutover and of a command with
// subcommands: without arguments it shows the help, with `help [COMMAND]`
// that command's help, and anything else is an unknown command (exit 2).
// showHelp prints the help of the command c runs: the app's (with its
// examples) at the top level, a command group's below it.
func showHelp(c *cli.Context) error {
	if len(c.Lineage()) <= 2 { // the app's context and its root command's
		return cli.ShowAppHelp(c)
	}
	return cli.ShowSubcommandHelp(c)
}

func unknownCommand(c *cli.Context) error {
	if !c.Args().Present() {
		return showHelp(c)
	}
	name, parent := c.Args().First(), commandName(c)
	if name == "help" {
		topic := c.Args().Get(1)
		if topic == "" {
			return showHelp(c)
		}
		if c.Command.Command(topic) != nil {
			return cli.ShowCommandHelp(c, topic)
		}
		name = topic
	}
	var names []string
	for _, sub := range c.Command.Subcommands {
		if !sub.Hidden {
			names = append(names, sub.Name)
		}
	}
	hint := "`" + parent + " --help` lists the commands: " + strings.Join(names, ", ")
	if s := suggest.Closest(name, names); s != "" {
		hint = fmt.Sprintf("did you mean `%s %s`?", parent, s)
	}
	return fail(ExitUsage, fmt.Errorf("unknown command %q for %s", name, parent), hint)
}

// commandName is "cutover" or "cutover COMMAND [SUBCOMMAND]", as typed.
func commandName(c *cli.Context) string {
	if c.Command == nil || c.Command.Name == "" || c.Command.FullName() == c.App.Name {
		return "cutover"
	}
	return "cutover " + c.Command.FullName()
}

// env is the process's standard streams: stdout and stderr are the
// console's (see console), which run and rollback copy to the run log.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	con            *console
}
