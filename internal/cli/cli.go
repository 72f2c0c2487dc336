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

	"github.com/urfave/cli/v2"

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
	app := newApp(stdin, stdout, stderr)
	err := app.Run(interspersed(app, args))
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "cutover: error: %s\n", ee.err)
		}
		if ee.hint != "" {
			fmt.Fprintf(stderr, "cutover: hint: %s\n", ee.hint)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "cutover: error: %s\ncutover: hint: run `cutover help` for usage\n", err)
	return ExitUsage
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	env := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	return &cli.App{
		Name:                      "cutover",
		Usage:                     "move encryption keys between KMSs inside a maintenance window, from a reviewed HCL runbook",
		Version:                   Version,
		Reader:                    stdin,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fail(ExitUsage, err, "run `cutover help` for usage")
		},
		Commands: []*cli.Command{
			validateCommand(env), planCommand(env), runCommand(env), rollbackCommand(env),
			statusCommand(env), unlockCommand(env), resetCommand(env), keysCommand(env),
		},
	}
}

// env is the process's standard streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}
