// Command supervise is a tiny systemd-style supervisor for one service
// (see package internal/testing/supervisor for the contract):
//
//	supervise run --dir D [--env-file F] [--grace 10s] -- prog args...
//	supervise restart --dir D [--timeout 60s]   # like systemctl restart
//	supervise stop --dir D [--timeout 30s]      # stops child and supervisor
//	supervise status --dir D                    # exit 0 if running, 3 if not
//
// run stays in the foreground; restart and stop signal it and wait.
// Errors are printed to stderr and end with exit status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cutover/cutover/internal/testing/supervisor"
)

const usage = `usage:
  supervise run --dir D [--env-file F] [--grace 10s] -- prog args...
  supervise restart --dir D [--timeout 60s]
  supervise stop --dir D [--timeout 30s]
  supervise status --dir D`

func main() {
	if len(os.Args) < 2 {
		fail(2, usage)
	}
	os.Exit(dispatch(os.Args[1], os.Args[2:]))
}

// dispatch runs one subcommand and returns the exit status.
func dispatch(sub string, args []string) int {
	fs := flag.NewFlagSet("supervise "+sub, flag.ExitOnError)
	dir := fs.String("dir", "", "supervisor state directory (required)")
	switch sub {
	case "run":
		envFile := fs.String("env-file", "", "KEY=VALUE file re-read at every (re)start")
		grace := fs.Duration("grace", supervisor.DefaultGrace, "SIGTERM to SIGKILL delay")
		parse(fs, args, dir)
		return run(supervisor.Config{Dir: *dir, EnvFile: *envFile, Grace: *grace, Argv: fs.Args()})
	case "restart":
		timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the new child")
		parse(fs, args, dir)
		return report(supervisor.Restart(*dir, *timeout))
	case "stop":
		timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the supervisor to exit")
		parse(fs, args, dir)
		return report(supervisor.Stop(*dir, *timeout))
	case "status":
		parse(fs, args, dir)
		return status(*dir)
	}
	fail(2, "supervise: unknown command %q\n%s", sub, usage)
	return 2
}

// parse parses flags and insists on --dir.
func parse(fs *flag.FlagSet, args []string, dir *string) {
	_ = fs.Parse(args) // ExitOnError
	if *dir == "" {
		fail(2, "%s: --dir is required\n%s", fs.Name(), usage)
	}
}

// run supervises cfg in the foreground.
func run(cfg supervisor.Config) int {
	if len(cfg.Argv) == 0 {
		fail(2, "supervise run: no program given after --\n%s", usage)
	}
	return report(supervisor.Run(context.Background(), cfg))
}

// status prints D/status and whether the supervisor is alive.
func status(dir string) int {
	st, err := supervisor.ReadStatus(dir)
	if err != nil {
		fail(3, "supervise status: %v", err)
	}
	pid, err := supervisor.SupervisorPID(dir)
	if err != nil {
		fmt.Printf("supervisor: not running (%v)\n", err)
	} else {
		fmt.Printf("supervisor: running (pid %d)\n", pid)
	}
	fmt.Printf("child: %s\ngeneration: %d\nsince: %s\n", st, st.Generation, st.Since.Format(time.RFC3339))
	if err != nil || st.State != supervisor.Running {
		return 3
	}
	return 0
}

// report prints err, if any, and maps it to an exit status.
func report(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "supervise:", err)
		return 1
	}
	return 0
}

// fail prints a message and exits with code.
func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}
