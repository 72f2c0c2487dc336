package engine

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/plan"
)

// evalWhen evaluates a step's `when` condition with the statuses and outputs
// of the steps recorded so far.
func (e *execution) evalWhen(s *plan.Step) (bool, error) {
	if s.When == nil {
		return true, nil
	}
	ctx := e.plan.Eval.NewChild()
	ctx.Variables = map[string]cty.Value{"step": e.stepsObject()}
	val, diags := s.When.Value(ctx)
	if diags.HasErrors() {
		return false, fmt.Errorf("when: %s", diagsText(diags))
	}
	val, _ = val.UnmarkDeep()
	if !val.IsKnown() || val.IsNull() || val.Type() != cty.Bool {
		return false, fmt.Errorf("when: the condition did not evaluate to true or false")
	}
	return val.True(), nil
}

func diagsText(diags hcl.Diagnostics) string {
	if len(diags) == 0 {
		return ""
	}
	d := diags[0]
	if d.Subject != nil {
		return fmt.Sprintf("%s: %s; %s", d.Subject, d.Summary, d.Detail)
	}
	return d.Summary + "; " + d.Detail
}

// stepsObject is step.<type>.<name> with known status and outputs.
func (e *execution) stepsObject() cty.Value {
	byType := map[string]map[string]cty.Value{}
	for _, s := range e.plan.Steps {
		status, outputs := "pending", map[string]cty.Value{}
		if rec := e.st.Step(s.ID); rec != nil {
			status = string(rec.Status)
			for k, v := range rec.Outputs {
				outputs[k] = cty.StringVal(v)
			}
		}
		out := cty.MapValEmpty(cty.String)
		if len(outputs) > 0 {
			out = cty.MapVal(outputs)
		}
		if byType[s.Type] == nil {
			byType[s.Type] = map[string]cty.Value{}
		}
		byType[s.Type][s.Name] = cty.ObjectVal(map[string]cty.Value{
			"id": cty.StringVal(s.ID), "type": cty.StringVal(s.Type), "name": cty.StringVal(s.Name),
			"status": cty.StringVal(status), "outputs": out,
		})
	}
	objs := map[string]cty.Value{}
	for t, m := range byType {
		objs[t] = cty.ObjectVal(m)
	}
	return cty.ObjectVal(objs)
}
