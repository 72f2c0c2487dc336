// Package supervisor runs one service process the way systemd runs a
// unit with an EnvironmentFile, so tests (and cutover's plans) can
// restart a server with a command, like `systemctl restart minio`.
//
// A supervisor started by Run owns a directory D and a child program:
//
//   - it writes D/pid (its own pid) and, while a child runs, D/child.pid;
//   - it starts the child with the variables of an env file (see
//     ReadEnvFile) merged over a minimal base env (PATH, HOME), in a
//     process group of its own, with stdout and stderr appended to D/log;
//   - on SIGHUP it stops the child (SIGTERM to its process group, SIGKILL
//     after a grace period), re-reads the env file and starts it again;
//   - a child that exits on its own is recorded in D/status (state
//     "exited") and is not restarted until the next SIGHUP;
//   - on SIGTERM or SIGINT (or when its context ends) it stops the child,
//     records "stopped" and removes D/pid and D/child.pid.
//
// Restart, Stop and ReadStatus drive and inspect a supervisor from
// another process; the supervise command (cmd/supervise) wraps
// them. On Linux the child also gets SIGKILL if the supervisor dies, so
// no child outlives its supervisor.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultGrace is how long a child gets between SIGTERM and SIGKILL
// when Config.Grace is zero.
const DefaultGrace = 10 * time.Second

// Config describes one supervised service.
type Config struct {
	Dir     string        // state directory: pid, child.pid, log, status (created if missing)
	EnvFile string        // KEY=VALUE file re-read at every start; "" for none
	Argv    []string      // program and arguments; Argv[0] is looked up in PATH
	Grace   time.Duration // SIGTERM-to-SIGKILL delay; DefaultGrace if zero
	BaseEnv []string      // env the file is merged over; BaseEnv() if nil
}

// supervisor is the state of one Run call.
type supervisor struct {
	cfg    Config
	log    *os.File
	status Status
	child  *exec.Cmd
	waitCh chan error // receives the running child's exit; nil if none
}

// Run supervises cfg.Argv until SIGTERM, SIGINT or ctx ends, then stops
// the child and returns nil. It returns an error only if it cannot set
// up its directory; a child that fails to start is recorded in D/status
// and retried on SIGHUP.
func Run(ctx context.Context, cfg Config) error {
	if len(cfg.Argv) == 0 {
		return errors.New("supervisor: no program to run")
	}
	s, err := newSupervisor(cfg)
	if err != nil {
		return err
	}
	defer s.close()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := writePID(s.path(PIDFile), os.Getpid()); err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	s.start()
	return s.loop(ctx, sigs)
}

// newSupervisor prepares the directory and opens the log.
func newSupervisor(cfg Config) (*supervisor, error) {
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.BaseEnv == nil {
		cfg.BaseEnv = BaseEnv()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	log, err := os.OpenFile(filepath.Join(cfg.Dir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	s := &supervisor{cfg: cfg, log: log}
	s.status = Status{SupervisorPID: os.Getpid()}
	if old, err := ReadStatus(cfg.Dir); err == nil {
		s.status.Generation = old.Generation // keep counting across supervisors
	}
	return s, nil
}

// loop handles signals and child exits until the supervisor must stop.
func (s *supervisor) loop(ctx context.Context, sigs <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			s.shutdown("context done")
			return nil
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				s.shutdown("got " + sig.String())
				return nil
			}
			s.notef("got SIGHUP: restarting")
			s.stopChild()
			s.start()
		case err := <-s.waitCh:
			s.childExited(err)
		}
	}
}

// start reads the env file and starts the child, recording the outcome.
func (s *supervisor) start() {
	s.status.Generation++
	s.status.Exit, s.status.Error = "", ""
	cmd, err := s.command()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		s.notef("start failed: %v", err)
		s.setState(Failed, 0, err.Error())
		return
	}
	s.child, s.waitCh = cmd, make(chan error, 1)
	go func(ch chan<- error) { ch <- cmd.Wait() }(s.waitCh)
	if err := writePID(s.path(ChildPIDFile), cmd.Process.Pid); err != nil {
		s.notef("writing %s: %v", ChildPIDFile, err)
	}
	s.notef("started %q (pid %d, generation %d)", s.cfg.Argv, cmd.Process.Pid, s.status.Generation)
	s.setState(Running, cmd.Process.Pid, "")
}

// command builds the child's exec.Cmd from the current env file.
func (s *supervisor) command() (*exec.Cmd, error) {
	env := s.cfg.BaseEnv
	if s.cfg.EnvFile != "" {
		fileEnv, err := ReadEnvFile(s.cfg.EnvFile)
		if err != nil {
			return nil, fmt.Errorf("env file: %w", err)
		}
		env = MergeEnv(env, fileEnv)
	}
	cmd := exec.Command(s.cfg.Argv[0], s.cfg.Argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = childProcAttr()
	return cmd, cmd.Err
}

// childExited records a child that ended without being asked to.
func (s *supervisor) childExited(err error) {
	s.status.Exit = exitString(err)
	s.notef("child exited on its own: %s", s.status.Exit)
	killGroup(s.child.Process.Pid)
	s.child, s.waitCh = nil, nil
	removeFile(s.path(ChildPIDFile))
	s.setState(Exited, 0, "")
}

// stopChild stops the running child, if any: SIGTERM to its process
// group, then SIGKILL once the grace period is over.
func (s *supervisor) stopChild() {
	if s.child == nil {
		return
	}
	pid := s.child.Process.Pid
	s.setState(Stopping, pid, "")
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	var err error
	select {
	case err = <-s.waitCh:
	case <-time.After(s.cfg.Grace):
		s.notef("child did not stop within %v: sending SIGKILL", s.cfg.Grace)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		err = <-s.waitCh
	}
	killGroup(pid)
	s.status.Exit = exitString(err)
	s.notef("child stopped: %s", s.status.Exit)
	s.child, s.waitCh = nil, nil
	removeFile(s.path(ChildPIDFile))
}

// shutdown stops the child and records that the supervisor is done.
func (s *supervisor) shutdown(why string) {
	s.notef("stopping (%s)", why)
	s.stopChild()
	s.setState(Stopped, 0, "")
}

// close removes the pid file and closes the log; it runs last.
func (s *supervisor) close() {
	removeFile(s.path(PIDFile))
	_ = s.log.Close()
}

// setState updates and writes D/status.
func (s *supervisor) setState(st State, childPID int, errMsg string) {
	s.status.State, s.status.ChildPID, s.status.Since = st, childPID, time.Now()
	if errMsg != "" {
		s.status.Error = errMsg
	}
	if err := writeStatus(s.cfg.Dir, s.status); err != nil {
		s.notef("writing status: %v", err)
	}
}

// notef appends a timestamped supervisor line to the log.
func (s *supervisor) notef(format string, args ...any) {
	fmt.Fprintf(s.log, "%s supervise: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// path returns the path of a file in the supervisor's directory.
func (s *supervisor) path(name string) string { return filepath.Join(s.cfg.Dir, name) }

// killGroup sends SIGKILL to what is left of the process group pgid,
// such as grandchildren of an exited child. The group id cannot have
// been reused while any member is alive, so this is safe after Wait.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// exitString describes how a process ended, from exec.Cmd.Wait's error.
func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
