package drain

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover/cutover/providers/minio"
	"github.com/cutover/cutover/steps"
)

// FreezeStep drains a MinIO deployment by freezing its S3 API.
type FreezeStep struct {
	// MinIO is the deployment; nil only when its block has errors.
	MinIO *minio.Config
}

// freezeUndo is the compensation record saved before the freeze.
type freezeUndo struct {
	Frozen string `json:"frozen"` // the deployment, for the state file's reader
}

// errNoDeployment is returned when the minio block did not decode.
var errNoDeployment = errors.New("the minio block this drain refers to has errors")

// Plan reads the deployment (read-only: reachable, nodes, version, whether
// it is frozen already) and says what will be frozen and how it is released.
func (s *FreezeStep) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.MinIO == nil {
		return nil, errNoDeployment
	}
	info, err := s.MinIO.ServerInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("preflight %s: %w", s.MinIO.Describe(), err)
	}
	freeze := steps.Action{Summary: fmt.Sprintf("freeze S3 traffic on %s (madmin ServiceFreezeV2)", s.MinIO.Describe()),
		Details: []string{"now: " + info.String(),
			"new S3 requests are held, not refused, until the release; requests in progress finish",
			"a restart of MinIO ends the freeze (it lives in MinIO's memory)"}}
	if info.Online < info.Total {
		freeze.Warning = true
		freeze.Details = append(freeze.Details, fmt.Sprintf("%d node(s) offline: they cannot be frozen", info.Total-info.Online))
	}
	if frozen, err := s.MinIO.Frozen(ctx, minio.FrozenWait); err == nil && frozen {
		freeze.Warning = true
		freeze.Details = append(freeze.Details, "S3 requests are held already: the deployment is frozen now")
	}
	return []steps.Action{freeze, {Summary: "on rollback or resume: " + s.DescribeRelease()}}, nil
}

// Apply records the compensation, freezes the deployment, and confirms new
// S3 requests are held. Re-running it after a crash freezes again; Release
// undoes every freeze.
func (s *FreezeStep) Apply(ctx context.Context, rt steps.Runtime) error {
	if s.MinIO == nil {
		return errNoDeployment
	}
	if err := rt.SaveUndo(freezeUndo{Frozen: s.MinIO.Describe()}); err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := s.MinIO.Freeze(ctx); err != nil {
		return fmt.Errorf("freeze %s: %w", s.MinIO.Describe(), err)
	}
	if err := s.MinIO.ConfirmFrozen(ctx); err != nil {
		return err
	}
	rt.SetSummary("froze S3 traffic on " + s.MinIO.Describe())
	return nil
}

// Undo releases the freeze (phase 3 of a rollback).
func (s *FreezeStep) Undo(ctx context.Context, rt steps.Runtime) error { return s.Release(ctx, rt) }

// Release unfreezes until S3 requests are served again: once per freeze
// when freezes were nested (a re-run Apply, a retried call), once, doing
// nothing, when the deployment is not frozen (never frozen, or restarted).
// It is idempotent.
func (s *FreezeStep) Release(ctx context.Context, rt steps.Runtime) error {
	if s.MinIO == nil {
		return errNoDeployment
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	n, err := s.MinIO.Thaw(ctx)
	if err != nil {
		return fmt.Errorf("unfreeze %s: %w", s.MinIO.Describe(), err)
	}
	rt.Logf("%s: S3 requests served again after %d unfreeze(s)", s.MinIO.Describe(), n)
	return nil
}

// DescribeRelease says what Release does.
func (s *FreezeStep) DescribeRelease() string {
	if s.MinIO == nil {
		return "unfreeze MinIO (ServiceUnfreezeV2)"
	}
	return "unfreeze " + s.MinIO.Describe() + " (ServiceUnfreezeV2, until S3 requests are served)"
}

// withDefaultTimeout bounds ctx by DefaultTimeout when it has no deadline.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}
