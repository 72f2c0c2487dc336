// Package report renders a run's or a rehearsal's record as one
// self-contained HTML page: a timeline with one bar per step and per
// rollback action on a time axis, the downtime shaded, the window's budget
// as a line, retries and failures marked, a table of the steps with their
// details, and the inputs with sensitive values masked.
//
// The page needs nothing but itself: CSS inline, no script, no font, no
// image, no link; nothing in it makes a browser fetch anything. It reads on a
// phone (the rows stack under 40em) and prints (@media print). Every string
// that comes from a run (step summaries, errors, outputs: hostile input, a
// command's output can say anything) goes through html/template's contextual
// escaping; callers mask secrets before they hand strings over.
package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"
)

// Report is what the page shows. Callers fill it from the checkpoint and
// the plan, with every string already masked.
type Report struct {
	Plan, Description, RunID, Phase string
	Rehearsal                       bool
	// Reason is why the run stopped or rolled back, if it did.
	Reason    string
	StartedAt time.Time
	// Window and Margin are the plan's; zero means none. WindowStart is
	// when the first downtime step started (nil: no downtime).
	Window, Margin time.Duration
	WindowStart    *time.Time
	// DowntimeEnd is when traffic came back (the resume step's end, or
	// the rollback's release); nil with a WindowStart means still down.
	DowntimeEnd *time.Time
	Bars        []Bar
	// Inputs are the run's inputs as recorded (flags; sensitive ones by
	// name) and the plan's variables as the report was given them.
	InputArgs []string
	Variables []Variable
	Generated time.Time
}

// Bar is one step or one rollback action.
type Bar struct {
	// Label is the step ID, or "phase N OP STEP" for a rollback action.
	Label string
	// Rollback is true for a rollback action.
	Rollback bool
	Status   string
	Start    *time.Time
	End      *time.Time
	Attempts int
	// Retries are the retries within the last attempt.
	Retries int
	Error   string
	Summary string
	// Details are the step's outputs, "key = value".
	Details []string
}

// Variable is one input of the plan.
type Variable struct {
	Name, Value string
	Sensitive   bool
}

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{"pct": pct}).Parse(pageSource))

// Write renders r as HTML to w.
func Write(w io.Writer, r Report) error {
	return page.Execute(w, newView(r))
}

// view is Report laid out on the time axis.
type view struct {
	Report
	Span     time.Duration // the axis, from StartedAt
	Ticks    []tick
	Rows     []row
	Down     *segment // the downtime, shaded
	Budget   *float64 // the window's end, in percent of the axis
	Off      string   // the budget when it lies beyond the axis
	Title    string
	Duration string
}

type tick struct {
	Left  float64
	Label string
}

type segment struct{ Left, Width float64 }

type row struct {
	Bar
	Seg      segment
	Offset   string
	Took     string
	Retried  bool
	Failed   bool
	HasTimes bool
}

func newView(r Report) view {
	v := view{Report: r, Title: r.Plan}
	end := r.StartedAt
	for _, b := range r.Bars {
		if b.End != nil && b.End.After(end) {
			end = *b.End
		}
		if b.Start != nil && b.Start.After(end) {
			end = *b.Start
		}
	}
	v.Span = max(end.Sub(r.StartedAt), time.Millisecond)
	v.Duration = short(end.Sub(r.StartedAt))
	at := func(t time.Time) float64 { return clamp(100 * float64(t.Sub(r.StartedAt)) / float64(v.Span)) }
	for i := 0; i <= 4; i++ {
		v.Ticks = append(v.Ticks, tick{Left: float64(i) * 25, Label: "+" + short(v.Span*time.Duration(i)/4)})
	}
	if r.WindowStart != nil {
		downEnd := end
		if r.DowntimeEnd != nil {
			downEnd = *r.DowntimeEnd
		}
		v.Down = &segment{Left: at(*r.WindowStart), Width: at(downEnd) - at(*r.WindowStart)}
		if r.Window > 0 {
			budgetEnd := r.WindowStart.Add(r.Window)
			b := at(budgetEnd)
			v.Budget = &b
			if budgetEnd.After(end) {
				v.Off = fmt.Sprintf("the window's budget (%s from the first downtime step) ends %s after the last bar: its line stands at the right edge, off the scale", r.Window, short(budgetEnd.Sub(end)))
			}
		}
	}
	for _, b := range r.Bars {
		rw := row{Bar: b, Retried: b.Retries > 0 || b.Attempts > 1, Failed: b.Status == "failed"}
		if b.Start != nil {
			stop := end
			if b.End != nil {
				stop = *b.End
			}
			rw.HasTimes = true
			rw.Seg = segment{Left: at(*b.Start), Width: at(stop) - at(*b.Start)}
			rw.Offset = "+" + short(b.Start.Sub(r.StartedAt))
			rw.Took = short(stop.Sub(*b.Start))
		}
		v.Rows = append(v.Rows, rw)
	}
	return v
}

func clamp(p float64) float64 { return min(max(p, 0), 100) }

// pct formats a percentage for a CSS length.
func pct(p float64) string { return fmt.Sprintf("%.3f%%", p) }

// short is a duration to a tenth of a second (a millisecond under one).
func short(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// Labels are the bars' labels in order, as the page shows them (for tests
// and callers that check a page against its record).
func (r Report) Labels() []string {
	out := make([]string, len(r.Bars))
	for i, b := range r.Bars {
		out[i] = b.Label
	}
	return slices.Clip(out)
}
