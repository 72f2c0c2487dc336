package plan

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/steps"
)

// cutoverBlock is the body of the `cutover "<name>"` block; its tags are
// its entry in docs/reference.md.
type cutoverBlock struct {
	Window          hcl.Expression `hcl:"window,optional" type:"duration" default:"no limit" doc:"The maintenance window, such as \"30m\", counted from the first downtime step (drain, restart). Before each step the run checks that the rest, plus the rollback it may need, still fits, and preflight refuses a window shorter than the plan's own estimate (--ignore-window turns both off)."`
	Margin          hcl.Expression `hcl:"margin,optional" type:"duration" default:"0" doc:"The part of the window a rehearsal's verdict keeps free for the unexpected: the worst measured downtime plus the worst rollback must fit in window - margin. Shorter than the window."`
	PointOfNoReturn hcl.Expression `hcl:"point_of_no_return,optional" type:"reference to step.<type>.<name>" default:"none" doc:"The step after which a failure no longer rolls back automatically (data written since then under the new configuration would become unreadable); cutover rollback then needs --accept-data-loss."`
	Description     string         `hcl:"description,optional" doc:"Free text shown by plan and status."`
}

// decodeCutover reads the single `cutover "<name>"` block; without one the
// plan is named after its file.
func (l *loader) decodeCutover() hcl.Diagnostics {
	blocks := l.content.Blocks.OfType("cutover")
	base := filepath.Base(l.plan.File)
	l.plan.Name = strings.TrimSuffix(base, filepath.Ext(base))
	if len(blocks) == 0 {
		if err := checkpoint.ValidName(l.plan.Name); err != nil {
			start := hcl.Pos{Line: 1, Column: 1}
			return hcl.Diagnostics{errorDiag("Invalid plan name", fmt.Sprintf("Without a cutover block the plan is named after its file, %q, and a plan name must be %s: it names the state directory .cutover/<name>. Add a block such as cutover \"%s\" {}.", l.plan.Name, checkpoint.NameRuleText, suggestName(l.plan.Name)),
				hcl.Range{Filename: l.plan.File, Start: start, End: start})}
		}
		return nil
	}
	var diags hcl.Diagnostics
	for _, b := range blocks[1:] {
		diags = append(diags, duplicateDiag("cutover block", b.Labels[0], blocks[0], b))
	}
	b := blocks[0]
	l.plan.Name = b.Labels[0]
	if err := checkpoint.ValidName(l.plan.Name); err != nil {
		diags = append(diags, errorDiag("Invalid plan name", fmt.Sprintf("%q is not a valid plan name: it names the state directory .cutover/<name>, so it must be %s. For example: cutover \"%s\".", l.plan.Name, checkpoint.NameRuleText, suggestName(l.plan.Name)), b.LabelRanges[0]))
	}
	var cb cutoverBlock
	diags = append(diags, l.decodeContext().DecodeBody(b.Body, &cb)...)
	l.plan.Description = cb.Description
	w, d := l.limit(cb.Window, "window")
	diags = append(diags, d...)
	l.plan.Window = w
	m, d := l.duration(cb.Margin, "margin")
	diags = append(diags, d...)
	l.plan.Margin = m
	if w > 0 && m >= w && cb.Margin != nil {
		diags = append(diags, errorDiag("Invalid margin", fmt.Sprintf("margin %s is not shorter than the window %s: nothing would be left for the cutover; the margin is the part of the window kept free for the unexpected.", m, w), cb.Margin.Range()))
	}
	if cb.PointOfNoReturn != nil && !isNullExpr(cb.PointOfNoReturn) {
		diags = append(diags, l.pointOfNoReturn(cb.PointOfNoReturn)...)
	}
	return diags
}

func (l *loader) pointOfNoReturn(expr hcl.Expression) hcl.Diagnostics {
	id, _, diags := steps.Ref(l.decodeContext(), expr, "point_of_no_return")
	l.plan.PointOfNoReturn = id
	return diags
}

func isNullExpr(expr hcl.Expression) bool {
	v, d := expr.Value(nil)
	return !d.HasErrors() && v.IsNull()
}

// parseDuration accepts Go durations ("90s", "1h30m") and a plain "0".
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// duration evaluates an optional duration attribute ("30m", "1h30m").
func (l *loader) duration(expr hcl.Expression, attr string) (time.Duration, hcl.Diagnostics) {
	if expr == nil || isNullExpr(expr) {
		return 0, nil
	}
	val, diags := l.decodeContext().Value(expr)
	if diags.HasErrors() || !val.IsKnown() {
		return 0, diags
	}
	if val.Type() != cty.String {
		return 0, append(diags, errorDiag("Invalid "+attr, fmt.Sprintf("%s must be a duration string such as \"30m\" or \"1h30m\".", attr), expr.Range()))
	}
	d, err := parseDuration(val.AsString())
	if err != nil {
		return 0, append(diags, errorDiag("Invalid "+attr, fmt.Sprintf("%s: %s; write a duration such as \"30m\" or \"1h30m\".", attr, err), expr.Range()))
	}
	return d, diags
}

// limit evaluates an optional duration attribute that bounds something
// (window, timeout): zero would leave no time at all, and is an error;
// leaving the attribute out is how a plan says "no limit".
func (l *loader) limit(expr hcl.Expression, attr string) (time.Duration, hcl.Diagnostics) {
	d, diags := l.duration(expr, attr)
	if d == 0 && !diags.HasErrors() && expr != nil && !isNullExpr(expr) {
		if val, _ := l.decodeContext().Value(expr); val.IsKnown() && val.Type() == cty.String {
			diags = append(diags, errorDiag("Invalid "+attr, fmt.Sprintf("%s = %q leaves no time at all; leave %s out for no limit, or give a duration such as \"30m\".", attr, val.AsString(), attr), expr.Range()))
		}
	}
	return d, diags
}

// suggestName turns an invalid name into one that follows
// checkpoint.NameRule, for diagnostics: every other character becomes a
// dash, and a name not starting with a letter gets a "plan-" prefix.
func suggestName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if out == "" || !(out[0] >= 'a' && out[0] <= 'z' || out[0] >= 'A' && out[0] <= 'Z') {
		out = "plan-" + out
	}
	if len(out) > 64 {
		out = out[:64]
	}
	return strings.TrimRight(out, "-")
}
