package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/command"
	"github.com/cutover/cutover/internal/fsutil"
)

// Local is the operator's own machine.
type Local struct{}

// Name returns "local".
func (Local) Name() string { return "local" }

// Check has nothing to verify.
func (Local) Check(context.Context) (string, error) { return "local", nil }

// ReadFile reads path (fsutil.ReadFile).
func (Local) ReadFile(_ context.Context, path string) ([]byte, fsutil.Meta, error) {
	return fsutil.ReadFile(path)
}

// Writable checks the file exists, is regular, and that it and its
// directory are writable by this process.
func (Local) Writable(_ context.Context, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		if err := access(p); err != nil {
			return fmt.Errorf("%s is not writable: %w", p, err)
		}
	}
	return nil
}

// Replace writes atomically (fsutil.ReplaceFile).
func (Local) Replace(_ context.Context, path string, data []byte, perm os.FileMode) error {
	return fsutil.ReplaceFile(path, data, perm)
}

// Restore writes atomically with exactly meta (fsutil.WriteFileMeta).
func (Local) Restore(_ context.Context, path string, data []byte, meta fsutil.Meta) error {
	return fsutil.WriteFileMeta(path, data, meta)
}

// Run runs the command through internal/command (own process group, masked
// output).
func (Local) Run(ctx context.Context, c Command) error {
	return command.Run(ctx, command.Spec{Argv: c.Argv, Secret: c.Secret, Env: command.EnvList(c.Env), Dir: c.Dir, Output: c.Output, Secrets: c.Secrets})
}
