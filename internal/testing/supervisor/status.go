package supervisor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// Names of the files a supervisor keeps in its directory.
const (
	PIDFile      = "pid"       // the supervisor's own pid, while it runs
	ChildPIDFile = "child.pid" // the running child's pid (also its process group)
	LogFile      = "log"       // the child's stdout and stderr, and supervisor notes, appended
	StatusFile   = "status"    // JSON Status, rewritten atomically on every change
)

// State is the lifecycle state of the supervised child.
type State string

// The states a Status can report.
const (
	// Running: the child was started and has not exited yet.
	Running State = "running"
	// Exited: the child exited on its own; a restart starts it again.
	Exited State = "exited"
	// Failed: the child could not be started (bad env file, missing
	// program); a restart tries again.
	Failed State = "failed"
	// Stopping: the supervisor is stopping the child (restart or stop).
	Stopping State = "stopping"
	// Stopped: the supervisor stopped the child and exited.
	Stopped State = "stopped"
)

// Status is what D/status records about the child. Generation counts
// start attempts, so a caller can tell a new start from an old one.
type Status struct {
	State         State     `json:"state"`
	Generation    int       `json:"generation"`
	SupervisorPID int       `json:"supervisor_pid"`
	ChildPID      int       `json:"child_pid,omitempty"`
	Exit          string    `json:"exit,omitempty"`  // how the last child ended, e.g. "exit status 1"
	Error         string    `json:"error,omitempty"` // why the last start failed
	Since         time.Time `json:"since"`
}

// String renders s as "state (details)" for messages.
func (s Status) String() string {
	var parts []string
	if s.ChildPID != 0 {
		parts = append(parts, "pid "+strconv.Itoa(s.ChildPID))
	}
	if s.Exit != "" {
		parts = append(parts, s.Exit)
	}
	if s.Error != "" {
		parts = append(parts, s.Error)
	}
	if len(parts) == 0 {
		return string(s.State)
	}
	return fmt.Sprintf("%s (%s)", s.State, strings.Join(parts, "; "))
}

// ReadStatus reads D/status. A missing file is an error wrapping
// os.ErrNotExist: the supervisor never ran in dir.
func ReadStatus(dir string) (Status, error) {
	var s Status
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, StatusFile), err)
	}
	return s, nil
}

// writeStatus replaces D/status atomically.
func writeStatus(dir string, s Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, StatusFile), append(b, '\n'), 0o644)
}

// ReadPID reads a pid file such as D/pid or D/child.pid.
func ReadPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: invalid pid %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// writePID writes pid to path atomically.
func writePID(path string, pid int) error {
	return fsutil.WriteFileAtomic(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// removeFile removes path, best effort: a missing file is fine and a
// stale one is detected by its readers.
func removeFile(path string) { _ = os.Remove(path) }
