package plan

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/suggest"
	"github.com/cutover/cutover/steps"
)

// commonStep holds the attributes every step accepts (decodeCommon reads
// them through commonStepSchema, the schema these fields imply); the rest
// of a step's body belongs to its type. The tags are docs/reference.md's.
type commonStep struct {
	Description   hcl.Expression `hcl:"description,optional" type:"string" doc:"Free text shown by plan, run and status."`
	Timeout       hcl.Expression `hcl:"timeout,optional" type:"duration" default:"none (health_check: 2m; drain: 5m for its wait)" doc:"How long one attempt may take, such as \"90s\"; the attempt is then cancelled and fails."`
	Retries       hcl.Expression `hcl:"retries,optional" type:"number" default:"0" doc:"How many times a failed attempt is tried again."`
	RetryInterval hcl.Expression `hcl:"retry_interval,optional" type:"duration" default:"\"5s\"" doc:"The time between attempts."`
	When          hcl.Expression `hcl:"when,optional" type:"bool" default:"true" doc:"A condition evaluated just before the step runs (it may read earlier steps' status and outputs); false skips the step."`
	Rollback      *rollbackBlock `hcl:"rollback,block" doc:"Replaces the step type's own compensation in a rollback."`
	On            hcl.Expression `hcl:"on,optional" type:"host or group reference, or a list of them" default:"none: the operator's machine" doc:"The hosts the step runs on: host.<name>, group.<name> or a list such as [host.a, group.web]. env edits every host's file as one set; exec, restart and health_check run once per host with node (name, address, port, user) bound to it. Other step types refuse it."`
	Batch         hcl.Expression `hcl:"batch,optional" type:"number" default:"all hosts at once" doc:"With on, for exec, restart and health_check: how many hosts run at once; the next batch starts when every host of this one (and its gate) passed. A failure stops the roll."`
	Gate          *gateBlock     `hcl:"gate,block" doc:"With on, for exec, restart and health_check: a health_check body (url, expect_status... or minio), plus timeout (default: the step's), checked on each host of a batch before the next batch starts; node is bound to that host."`
}

var commonStepSchema = hcldecode.ImpliedSchema(&commonStep{})

// gateBlock is a step's `gate {}` block: its body is a health_check
// step's (decoded per host by decodeEach), so it lists no attribute here.
type gateBlock struct{}

// rollbackBlock is a step's `rollback {}` block.
type rollbackBlock struct {
	Command []string          `hcl:"command,optional" doc:"A command (argv, no shell) run instead of the step type's compensation; arguments from sensitive values are masked when shown."`
	Env     map[string]string `hcl:"env,optional" doc:"Variables set for command over the environment it inherits (which holds none of the plan's inputs)."`
	Skip    bool              `hcl:"skip,optional" default:"false" doc:"Leave the step out of the rollback altogether."`
}

// stepObject is what step.<type>.<name> evaluates to at load time. Status
// and outputs are unknown until the step runs.
func stepObject(typ, name string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"id": cty.StringVal(typ + "." + name), "type": cty.StringVal(typ), "name": cty.StringVal(name),
		"status":  cty.UnknownVal(cty.String),
		"outputs": cty.UnknownVal(cty.Map(cty.String)),
	})
}

// declareSteps indexes the step blocks and makes step.<type>.<name> referable.
func (l *loader) declareSteps() hcl.Diagnostics {
	var diags hcl.Diagnostics
	l.stepIndex = map[string]int{}
	seen := map[string]*hcl.Block{}
	byType := map[string]map[string]cty.Value{}
	for _, b := range l.content.Blocks.OfType("step") {
		typ, name := b.Labels[0], b.Labels[1]
		id := typ + "." + name
		if prev, dup := seen[id]; dup {
			diags = append(diags, duplicateDiag("step", id, prev, b))
			continue
		}
		if checkpoint.ValidName(name) != nil {
			diags = append(diags, errorDiag("Invalid step name", fmt.Sprintf("%q is not a valid step name: a step name must be %s. It names the step's files in the state directory and is referred to as step.%s.<name>. For example: %q.", name, checkpoint.NameRuleText, typ, suggestName(name)), b.LabelRanges[1]))
		}
		seen[id] = b
		l.stepIndex[id] = len(l.stepIndex)
		if byType[typ] == nil {
			byType[typ] = map[string]cty.Value{}
		}
		byType[typ][name] = stepObject(typ, name)
	}
	objs := map[string]cty.Value{}
	for typ, m := range byType {
		objs[typ] = cty.ObjectVal(m)
	}
	l.setVar("step", cty.ObjectVal(objs))
	return diags
}

func (l *loader) decodeSteps() hcl.Diagnostics {
	var diags hcl.Diagnostics
	done := map[string]bool{}
	for _, b := range l.content.Blocks.OfType("step") {
		id := b.Labels[0] + "." + b.Labels[1]
		if done[id] {
			continue // a duplicate, reported by declareSteps
		}
		done[id] = true
		s, d := l.decodeStep(b)
		diags = append(diags, d...)
		if s != nil {
			l.plan.Steps = append(l.plan.Steps, s)
		}
	}
	return diags
}

func (l *loader) decodeStep(b *hcl.Block) (*Step, hcl.Diagnostics) {
	typ, name := b.Labels[0], b.Labels[1]
	s := &Step{ID: typ + "." + name, Type: typ, Name: name, DeclRange: b.DefRange, Vars: l.varsOf(b.Body)}
	info, ok := steps.Lookup(typ)
	if !ok {
		return nil, hcl.Diagnostics{unknownStepType(typ, b.LabelRanges[0])}
	}
	s.Info = info
	content, remain, diags := b.Body.PartialContent(commonStepSchema)
	diags = append(diags, l.laterStepRefs(b.Body, s.ID)...)
	diags = append(diags, l.decodeCommon(s, content)...)
	impl, d := l.decodeOn(s, content, remain)
	diags = append(diags, d...)
	s.Impl = impl
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

func (l *loader) decodeCommon(s *Step, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var d hcl.Diagnostics
	attrs := content.Attributes
	s.Timeout, d = l.limit(exprOf(attrs, "timeout"), "timeout")
	diags = append(diags, d...)
	s.RetryInterval, d = l.duration(exprOf(attrs, "retry_interval"), "retry_interval")
	diags = append(diags, d...)
	if a, ok := attrs["retries"]; ok {
		diags = append(diags, l.retries(a, s)...)
	}
	if a, ok := attrs["description"]; ok {
		diags = append(diags, l.stringAttr(a, &s.Description)...)
	}
	if a, ok := attrs["when"]; ok {
		s.When = a.Expr
		diags = append(diags, l.checkWhen(a)...)
	}
	for i, rb := range content.Blocks.OfType("rollback") {
		if i > 0 {
			diags = append(diags, errorDiag("Duplicate rollback block", "A step has at most one rollback block.", rb.DefRange))
			continue
		}
		var r rollbackBlock
		dc := l.decodeContext()
		diags = append(diags, dc.DecodeBody(rb.Body, &r)...)
		secret := hcldecode.SecretElements(hcldecode.Attributes(rb.Body, &r)["command"], dc, len(r.Command))
		s.Rollback = &RollbackOverride{Command: r.Command, Secret: secret, Env: r.Env, Skip: r.Skip}
	}
	return diags
}

func exprOf(attrs hcl.Attributes, name string) hcl.Expression {
	if a, ok := attrs[name]; ok {
		return a.Expr
	}
	return nil
}

func (l *loader) retries(a *hcl.Attribute, s *Step) hcl.Diagnostics {
	val, diags := l.decodeContext().Value(a.Expr)
	if diags.HasErrors() || !val.IsKnown() {
		return diags
	}
	if conv, err := convert.Convert(val, cty.Number); err == nil && !conv.IsNull() {
		val = conv // "3" from an untyped -var
	}
	if val.Type() != cty.Number || !val.AsBigFloat().IsInt() || val.AsBigFloat().Sign() < 0 {
		return append(diags, errorDiag("Invalid retries", "retries must be a whole number of at least 0.", a.Expr.Range()))
	}
	n, _ := val.AsBigFloat().Int64()
	s.Retries = int(n)
	return diags
}

func (l *loader) stringAttr(a *hcl.Attribute, out *string) hcl.Diagnostics {
	val, diags := l.decodeContext().Value(a.Expr)
	if diags.HasErrors() || !val.IsKnown() || val.IsNull() {
		return diags
	}
	if val.Type() != cty.String {
		return append(diags, errorDiag("Incorrect attribute value type", fmt.Sprintf("%s must be a string.", a.Name), a.Expr.Range()))
	}
	*out = val.AsString()
	return diags
}

// checkWhen evaluates a `when` condition now; it may depend on step status or
// outputs, which stay unknown until run time.
func (l *loader) checkWhen(a *hcl.Attribute) hcl.Diagnostics {
	val, diags := l.decodeContext().Value(a.Expr)
	if diags.HasErrors() || !val.IsKnown() {
		return diags
	}
	if val.Type() != cty.Bool {
		return append(diags, errorDiag("Invalid when condition", "when must be true or false.", a.Expr.Range()))
	}
	return diags
}

// laterStepRefs reports references from a step to itself or to a step that
// runs after it: steps run in file order, so such a value cannot exist yet.
func (l *loader) laterStepRefs(body hcl.Body, id string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	self := l.stepIndex[id]
	for _, tr := range bodyTraversals(body) {
		names := traversalNames(tr)
		if len(names) < 3 || names[0] != "step" {
			continue
		}
		ref := names[1] + "." + names[2]
		if idx, ok := l.stepIndex[ref]; ok && idx >= self {
			diags = append(diags, errorDiag("Reference to a later step",
				fmt.Sprintf("Step %s refers to step %s, which runs %s. Steps run in the order they are written; move the step or the reference.",
					id, ref, map[bool]string{true: "at the same time (itself)", false: "after it"}[idx == self]), tr.SourceRange()))
		}
	}
	return diags
}

// bodyTraversals collects every variable reference in a native-syntax body.
func bodyTraversals(body hcl.Body) []hcl.Traversal {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []hcl.Traversal
	for _, a := range sb.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, b := range sb.Blocks {
		out = append(out, bodyTraversals(b.Body)...)
	}
	return out
}

func unknownStepType(typ string, rng hcl.Range) *hcl.Diagnostic {
	known := steps.Names()
	detail := fmt.Sprintf("There is no step type %q. The step types are: %s.", typ, strings.Join(known, ", "))
	if s := suggest.Closest(typ, known); s != "" {
		detail = fmt.Sprintf("There is no step type %q; did you mean %q? The step types are: %s.", typ, s, strings.Join(known, ", "))
	}
	return errorDiag("Unknown step type", detail, rng)
}
