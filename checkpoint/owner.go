package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/fsutil"
)

// ErrOtherPlan means a state directory belongs to another plan file; the
// error is an *OtherPlanError.
var ErrOtherPlan = errors.New("the state directory belongs to another plan file")

// Owner is the plan a state directory belongs to (owner.json, sealed like
// state.json). Two plan files with the same name beside each other would
// otherwise share .cutover/<name>/ and read each other's checkpoint.
type Owner struct {
	Plan     string `json:"plan"`
	PlanFile string `json:"plan_file"` // absolute
}

// OtherPlanError is returned when a plan file uses a state directory that
// another, still existing, plan file owns.
type OtherPlanError struct {
	Dir      string
	Owner    Owner
	PlanFile string // the plan file that was refused, absolute
}

func (e *OtherPlanError) Error() string {
	return fmt.Sprintf("%s: %s is used by %s (plan %q), not by %s", ErrOtherPlan, e.Dir, e.Owner.PlanFile, e.Owner.Plan, e.PlanFile)
}

// Unwrap makes errors.Is(err, ErrOtherPlan) true.
func (e *OtherPlanError) Unwrap() error { return ErrOtherPlan }

func (s *Store) ownerPath() string { return filepath.Join(s.dir, "owner.json") }

// Owner returns the directory's owner; nil (and no error) when none is
// recorded yet.
func (s *Store) Owner() (*Owner, error) {
	data, err := os.ReadFile(s.ownerPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	body, err := unseal(s.ownerPath(), data)
	if err != nil {
		return nil, err
	}
	var o Owner
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, &CorruptError{Path: s.ownerPath(), Problem: "does not name a plan: " + err.Error()}
	}
	return &o, nil
}

// CheckOwner refuses (*OtherPlanError) a plan file other than the recorded
// owner while that owner's file still exists. A missing owner, or one whose
// file is gone (the plan was moved or renamed), passes.
func (s *Store) CheckOwner(planFile string) error {
	o, err := s.Owner()
	if err != nil || o == nil {
		return err
	}
	abs, err := filepath.Abs(planFile)
	if err != nil {
		return err
	}
	if sameFile(abs, o.PlanFile) {
		return nil
	}
	if _, err := os.Stat(o.PlanFile); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return &OtherPlanError{Dir: s.dir, Owner: *o, PlanFile: abs}
}

// Claim records plan (from planFile) as the directory's owner, after
// CheckOwner passed; it rewrites owner.json only when it changes.
func (s *Store) Claim(plan, planFile string) error {
	if err := s.CheckOwner(planFile); err != nil {
		return err
	}
	abs, err := filepath.Abs(planFile)
	if err != nil {
		return err
	}
	if o, _ := s.Owner(); o != nil && o.Plan == plan && o.PlanFile == abs {
		return nil
	}
	data, _, err := seal(Owner{Plan: plan, PlanFile: abs})
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(s.ownerPath(), data, 0o600); err != nil {
		return fmt.Errorf("save %s: %w", s.ownerPath(), err)
	}
	return nil
}

// sameFile reports whether a and b name the same file (equal paths, or the
// same inode through a symlink or bind mount).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
