package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/plan"
)

// ErrRehearsalState refuses a rehearsal in a state directory whose
// checkpoint holds a run that is not rolled back: the rehearsal would
// resume it.
var ErrRehearsalState = errors.New("the state directory holds a run that is not rolled back")

// Rehearse runs p as a rehearsal on a staging system: the steps in order,
// as Run does, then, once the point of no return is done (or the last step,
// in a plan without one), the rollback on purpose, so that every step and
// every compensation of the worst automatic rollback is timed. The window
// estimate is not enforced (measuring is the point). A finished rehearsal
// is Completed with its state rolled back; a step that fails rolls back as
// in a run (RolledBack).
func Rehearse(ctx context.Context, p *plan.Plan, opts Options) Result {
	opts.Rehearsal, opts.IgnoreWindow = true, true
	return Run(ctx, p, opts)
}

func (e *execution) refuseRehearsal() Result {
	return Result{Outcome: Failed, State: e.st,
		Err:  fmt.Errorf("rehearsal refused, nothing was changed: %w: run %s is %s", ErrRehearsalState, e.st.RunID, e.st.Phase),
		Next: e.cmd("status", "what that run did") + "\n" + e.cmd("rehearse", "a state directory of the rehearsals' own", "--state", "DIR")}
}

// rehearsalRollback rolls back on purpose after s, the point of no return
// or the last step.
func (e *execution) rehearsalRollback(ctx context.Context, s *plan.Step) Result {
	where := "the last step"
	if s.ID == e.plan.PointOfNoReturn {
		where = "the point of no return"
	}
	r := e.rollback(context.WithoutCancel(ctx), fmt.Sprintf("rehearsal: rolled back on purpose after %s (%s)", s.ID, where), false)
	if r.Outcome == Completed {
		r.Next = e.cmd("report", "the rehearsal's timeline as one HTML page")
	}
	return r
}

// Verdict is what rehearsals say about the window: the downtime measured
// (first downtime step to the resume), the rollback from the worst point,
// and whether both fit in the window less its margin.
type Verdict struct {
	Window, Margin time.Duration
	// From and To name the downtime's first and last step.
	From, To string
	// RollbackFrom is the step after which the rehearsals rolled back.
	RollbackFrom string
	// Downtime and Rollback hold one measurement per rehearsal.
	Downtime, Rollback []time.Duration
}

// NewVerdict measures the states of finished rehearsals of p.
func NewVerdict(p *plan.Plan, states []*checkpoint.State) Verdict {
	v := Verdict{Window: p.Window, Margin: p.Margin}
	for _, st := range states {
		from, to, d := downtime(p, st)
		if from != "" {
			v.From, v.To = from, to
			v.Downtime = append(v.Downtime, d)
		}
		if rb := st.Rollback; rb != nil && rb.FinishedAt != nil {
			v.Rollback = append(v.Rollback, rb.FinishedAt.Sub(rb.StartedAt))
			v.RollbackFrom = lastDone(st)
		}
	}
	return v
}

// downtime is DowntimeSpan's length, with the names of its first and
// last step.
func downtime(p *plan.Plan, st *checkpoint.State) (from, to string, d time.Duration) {
	start, end, to := downtimeSpan(p, st)
	if start == nil || end == nil {
		return "", "", 0
	}
	for _, s := range p.Steps {
		if s.Info.Downtime {
			from = s.ID
			break
		}
	}
	return from, to, end.Sub(*start)
}

// DowntimeSpan is when the service was down in st's run: from the start of
// the first downtime step (window_start) to the end of the last resume step
// done, else of the rollback's last release, which gave traffic back; end
// is nil while traffic is still held.
func DowntimeSpan(p *plan.Plan, st *checkpoint.State) (start, end *time.Time) {
	start, end, _ = downtimeSpan(p, st)
	return start, end
}

func downtimeSpan(p *plan.Plan, st *checkpoint.State) (start, end *time.Time, to string) {
	if st.WindowStart == nil {
		return nil, nil, ""
	}
	for _, s := range p.Steps {
		if rec := st.Step(s.ID); s.Type == "resume" && rec != nil && rec.Status == checkpoint.StatusDone && rec.FinishedAt != nil {
			end, to = rec.FinishedAt, s.ID
		}
	}
	if end == nil && st.Rollback != nil {
		for _, a := range st.Rollback.Actions {
			if a.Op == checkpoint.OpRelease && a.FinishedAt != nil {
				end, to = a.FinishedAt, "the rollback's release of "+a.Step
			}
		}
	}
	return st.WindowStart, end, to
}

func lastDone(st *checkpoint.State) string {
	id := ""
	for _, s := range st.Steps {
		if s.Status == checkpoint.StatusDone {
			id = s.ID
		}
	}
	return id
}

// Need is the worst downtime plus the worst rollback: what the window must
// hold if the run fails at the last moment a rollback is automatic.
func (v Verdict) Need() time.Duration { return worst(v.Downtime) + worst(v.Rollback) }

// Fits reports whether Need fits in the window less the margin; a plan
// without a window always fits.
func (v Verdict) Fits() bool { return v.Window <= 0 || v.Need()+v.Margin <= v.Window }

// Lines are the verdict as printed, the last one "verdict: ...".
func (v Verdict) Lines() []string {
	var out []string
	if len(v.Downtime) > 0 {
		out = append(out, fmt.Sprintf("downtime (%s to %s): %s", v.From, v.To, spread(v.Downtime)))
	} else {
		out = append(out, "downtime: none (no step drains traffic or restarts a service)")
	}
	if len(v.Rollback) > 0 {
		out = append(out, fmt.Sprintf("rollback (from after %s): %s", v.RollbackFrom, spread(v.Rollback)))
	}
	switch {
	case v.Window <= 0:
		out = append(out, fmt.Sprintf("verdict: no window set: worst downtime plus rollback %s", round(v.Need())))
	case v.Fits():
		out = append(out, fmt.Sprintf("verdict: fits: window %s, margin %s: worst downtime %s + worst rollback %s = %s, %s to spare",
			v.Window, v.Margin, round(worst(v.Downtime)), round(worst(v.Rollback)), round(v.Need()), round(v.Window-v.Margin-v.Need())))
	default:
		out = append(out, fmt.Sprintf("verdict: DOES NOT FIT: window %s, margin %s: worst downtime %s + worst rollback %s = %s, over by %s",
			v.Window, v.Margin, round(worst(v.Downtime)), round(worst(v.Rollback)), round(v.Need()), round(v.Need()+v.Margin-v.Window)))
	}
	return out
}

func (v Verdict) String() string { return strings.Join(v.Lines(), "\n") }

func worst(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// spread is "12.3s" for one measurement, "median 12.3s, 11.9s to 13.1s
// (spread 1.2s) over 3 rehearsals" for several.
func spread(ds []time.Duration) string {
	if len(ds) == 1 {
		return round(ds[0]).String()
	}
	s := slices.Sorted(slices.Values(ds))
	lo, hi := s[0], s[len(s)-1]
	return fmt.Sprintf("median %s, %s to %s (spread %s) over %d rehearsals", round(s[len(s)/2]), round(lo), round(hi), round(hi-lo), len(s))
}

// RehearsalDurations are the durations the window estimate should use after
// rehearsals: per step the longest forward time measured, per step's
// compensation ("undo:<id>") the longest sum of its undo, release and
// cleanup actions.
func RehearsalDurations(states []*checkpoint.State) checkpoint.Durations {
	d := checkpoint.Durations{}
	keep := func(key string, took time.Duration) {
		if took > d[key] {
			d[key] = took
		}
	}
	for _, st := range states {
		for _, s := range st.Steps {
			if s.Status == checkpoint.StatusDone && s.StartedAt != nil && s.FinishedAt != nil {
				keep(s.ID, s.FinishedAt.Sub(*s.StartedAt))
			}
		}
		if st.Rollback == nil {
			continue
		}
		undo := map[string]time.Duration{}
		for _, a := range st.Rollback.Actions {
			if a.Op != checkpoint.OpRedo && a.Status == checkpoint.StatusDone && a.StartedAt != nil && a.FinishedAt != nil {
				undo[a.Step] += a.FinishedAt.Sub(*a.StartedAt)
			}
		}
		for id, took := range undo {
			keep("undo:"+id, took)
		}
	}
	return d
}
