package steps

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
)

// Ref resolves expr, which must be step.<type>.<name> naming a step declared
// in the plan, to the step's ID "<type>.<name>" and its decoded Step (nil
// when that step's block has errors). attr names the attribute in
// diagnostics, which carry expr's range.
func Ref(dc *hcldecode.Context, expr hcl.Expression, attr string) (string, Step, hcl.Diagnostics) {
	return hcldecode.StepRef[Step](dc, expr, attr)
}
