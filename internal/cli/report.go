package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/internal/fsutil"
	"github.com/cutover/cutover/internal/report"
	"github.com/cutover/cutover/plan"
)

func reportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write a run's or rehearsal's timeline as one self-contained HTML file (no scripts, no fetches)",
		ArgsUsage: "PLAN",
		Flags: append(varFlags(), stateFlag(),
			&cli.StringFlag{Name: "out", Usage: "write the page to `FILE` (- for standard output; default <plan>-<run>.html here)"},
		),
		Action: func(c *cli.Context) error {
			p, err := loadPlan(c, e, true)
			if err != nil {
				return err
			}
			_, st, err := loadState(c, p)
			if err != nil {
				return err
			}
			if st == nil {
				return fail(ExitFailed, fmt.Errorf("no checkpoint for plan %q in %s: nothing has run, there is nothing to report", p.Name, stateDirShown(c, p)),
					"rehearse it first: cutover rehearse -var-file staging.vars "+p.File)
			}
			var buf bytes.Buffer
			if err := report.Write(&buf, buildReport(p, st)); err != nil {
				return fail(ExitFailed, fmt.Errorf("render the report: %w", err), "this is a bug in cutover")
			}
			out := c.String("out")
			if out == "-" {
				_, _ = e.stdout.Write(buf.Bytes())
				return nil
			}
			if out == "" {
				out = fmt.Sprintf("%s-%s.html", p.Name, st.RunID)
			}
			if err := fsutil.WriteFileAtomic(out, buf.Bytes(), 0o644); err != nil {
				return fail(ExitFailed, fmt.Errorf("write the report: %w", err), "choose another file with --out")
			}
			abs, _ := filepath.Abs(out)
			fmt.Fprintf(e.stdout, "wrote %s: %d steps, %d rollback actions\n", abs, len(st.Steps), rollbackCount(st))
			return nil
		},
	}
}

func rollbackCount(st *checkpoint.State) int {
	if st.Rollback == nil {
		return 0
	}
	return len(st.Rollback.Actions)
}

// buildReport is the report's content: every string from the checkpoint
// and the plan passes through the plan's secret set (state.json is masked
// when written; this is the second line of defence), and sensitive
// variables show as (sensitive).
func buildReport(p *plan.Plan, st *checkpoint.State) report.Report {
	mask := p.Secrets.Redact
	r := report.Report{Plan: st.Plan, Description: mask(p.Description), RunID: st.RunID, Phase: string(st.Phase),
		Rehearsal: st.Rehearsal, Reason: mask(st.Error), StartedAt: st.StartedAt, Window: p.Window, Margin: p.Margin,
		WindowStart: st.WindowStart, Generated: time.Now().UTC()}
	if st.Rollback != nil && r.Reason == "" {
		r.Reason = mask(st.Rollback.Reason)
	}
	_, r.DowntimeEnd = engine.DowntimeSpan(p, st)
	for _, s := range st.Steps {
		b := report.Bar{Label: s.ID, Status: string(s.Status), Start: s.StartedAt, End: s.FinishedAt, Attempts: s.Attempts,
			Retries: s.Retries, Error: mask(s.Error), Summary: mask(s.Summary)}
		keys := make([]string, 0, len(s.Outputs))
		for k := range s.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.Details = append(b.Details, mask(k+" = "+s.Outputs[k]))
		}
		r.Bars = append(r.Bars, b)
	}
	if st.Rollback != nil {
		for _, a := range st.Rollback.Actions {
			r.Bars = append(r.Bars, report.Bar{Label: fmt.Sprintf("phase %d %s %s", a.Phase, a.Op, a.Step), Rollback: true,
				Status: string(a.Status), Start: a.StartedAt, End: a.FinishedAt, Attempts: a.Attempts, Retries: a.Retries, Error: mask(a.Error), Summary: mask(a.Summary)})
		}
	}
	if st.Inputs != nil {
		for _, a := range st.Inputs.Args {
			r.InputArgs = append(r.InputArgs, mask(a))
		}
		for _, n := range st.Inputs.Sensitive {
			r.InputArgs = append(r.InputArgs, "-var", n+"=(sensitive)")
		}
	}
	for _, v := range p.Variables {
		r.Variables = append(r.Variables, report.Variable{Name: v.Name, Sensitive: v.Sensitive, Value: mask(variableText(v))})
	}
	return r
}

// variableText is a non-sensitive variable's value as the report shows it.
func variableText(v *plan.Variable) string {
	switch {
	case v.Value.IsNull():
		return "null"
	case !v.Value.IsWhollyKnown():
		return "(not given to cutover report)"
	case v.Value.Type() == cty.String:
		return v.Value.AsString()
	}
	data, err := ctyjson.Marshal(v.Value, v.Value.Type())
	if err != nil {
		return "(cannot be shown)"
	}
	return string(data)
}
