package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
)

// EnvVarPrefix is the prefix of environment variables that set plan variables:
// CUTOVER_VAR_kes_api_key sets var.kes_api_key.
const EnvVarPrefix = "CUTOVER_VAR_"

// variableBlock is the body of a `variable "<name>"` block: decodeVariable
// reads it through the schema implied by these fields, and their tags are
// its entry in docs/reference.md.
type variableBlock struct {
	Type        hcl.Expression    `hcl:"type,optional" type:"type constraint" default:"any" doc:"A Terraform-style type constraint: string, number, bool, list(string), map(string), object({...})..."`
	Default     hcl.Expression    `hcl:"default,optional" type:"any" doc:"The value when none is given; without it the variable is required (by plan and run; validate leaves it unknown)."`
	Sensitive   hcl.Expression    `hcl:"sensitive,optional" type:"bool" default:"false" doc:"Whether the value is a secret: masked in every output, log, state file and audit line, and never passed to a command's environment unless the plan says so."`
	Description hcl.Expression    `hcl:"description,optional" type:"string" doc:"Free text for the plan's reader."`
	Validation  []validationBlock `hcl:"validation,block" doc:"A condition the value must meet; repeatable."`
}

// validationBlock is a variable's `validation {}` block.
type validationBlock struct {
	Condition    hcl.Expression `hcl:"condition" type:"bool expression" doc:"An expression over var.<name> that must be true."`
	ErrorMessage hcl.Expression `hcl:"error_message" type:"string" doc:"The error shown when the condition is false."`
}

var (
	variableSchema   = hcldecode.ImpliedSchema(&variableBlock{})
	validationSchema = hcldecode.ImpliedSchema(&validationBlock{})
)

type variableDecl struct {
	Variable
	Type        cty.Type
	Default     *cty.Value
	Validations []*hcl.Block
}

func decodeVariable(block *hcl.Block) (*variableDecl, hcl.Diagnostics) {
	content, diags := block.Body.Content(variableSchema)
	v := &variableDecl{Variable: Variable{Name: block.Labels[0], DeclRange: block.DefRange}, Type: cty.DynamicPseudoType}
	if !hclsyntax.ValidIdentifier(v.Name) {
		diags = append(diags, errorDiag("Invalid variable name", fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", v.Name), block.LabelRanges[0]))
	}
	if a, ok := content.Attributes["type"]; ok {
		ty, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		v.Type = ty
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, gohclBool(a, &v.Sensitive)...)
	}
	if a, ok := content.Attributes["description"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() && val.Type() == cty.String && val.IsKnown() && !val.IsNull() {
			v.Description = val.AsString()
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, errorDiag("Invalid default value for variable", fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", err), a.Expr.Range()))
			} else {
				v.Default = &conv
			}
		}
	}
	v.Validations = content.Blocks.OfType("validation")
	return v, diags
}

func gohclBool(a *hcl.Attribute, out *bool) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	conv, err := convert.Convert(val, cty.Bool)
	if err != nil || conv.IsNull() || !conv.IsKnown() {
		return append(diags, errorDiag("Incorrect attribute value type", fmt.Sprintf("%q must be true or false.", a.Name), a.Expr.Range()))
	}
	*out = conv.True()
	return diags
}

func errorDiag(summary, detail string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// rawInput is a value given on the command line, in a var file or the env.
type rawInput struct {
	expr   hcl.Expression // from a var file
	text   string         // from -var or the environment
	source string
	rng    hcl.Range
	// maxDepth bounds the nesting of a text parsed as an HCL literal.
	maxDepth int
}

// collectInputs gathers raw values by variable name with Terraform's
// precedence: environment < var files (in order) < -var flags (in order).
func collectInputs(opts Options, p *parser) (map[string]rawInput, hcl.Diagnostics) {
	inputs := map[string]rawInput{}
	var diags hcl.Diagnostics
	envNames := make([]string, 0)
	for k := range opts.environ() {
		if strings.HasPrefix(k, EnvVarPrefix) {
			envNames = append(envNames, k)
		}
	}
	sort.Strings(envNames)
	for _, k := range envNames {
		name := strings.TrimPrefix(k, EnvVarPrefix)
		inputs[name] = rawInput{text: opts.environ()[k], source: "environment variable " + k, maxDepth: p.lim.depth}
	}
	for _, path := range opts.VarFiles {
		diags = append(diags, readVarFile(path, p, inputs)...)
	}
	for _, kv := range opts.Vars {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			// without "=" there is no telling the name from a secret
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("A -var option (%d characters, not shown) is not of the form NAME=VALUE; for example -var region=eu-west-1.", len(kv))})
			continue
		}
		inputs[name] = rawInput{text: val, source: "-var " + name, maxDepth: p.lim.depth}
	}
	return inputs, diags
}

// parseLiteral parses a -var or environment value as an HCL expression after
// checking its nesting (see checkNesting).
func parseLiteral(in rawInput) (hclsyntax.Expression, hcl.Diagnostics) {
	tokens, _ := hclsyntax.LexExpression([]byte(in.text), in.source, hcl.InitialPos)
	if r := tokenNesting(tokens, in.maxDepth, 0); r != nil {
		return nil, hcl.Diagnostics{nestingDiag(*r, in.maxDepth)}
	}
	return hclsyntax.ParseExpression([]byte(in.text), in.source, hcl.InitialPos)
}

// literalExample is an example HCL literal of type t, for hints.
func literalExample(t cty.Type) string {
	switch {
	case t == cty.Number:
		return "3"
	case t == cty.Bool:
		return "true"
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		return `["a", "b"]`
	case t.IsMapType() || t.IsObjectType():
		return `{ name = "value" }`
	}
	return `"text"`
}

func readVarFile(path string, p *parser, inputs map[string]rawInput) hcl.Diagnostics {
	src, diags := p.read(path, "variables file")
	if diags.HasErrors() {
		return diags
	}
	f, diags := p.parse(path, src)
	if diags.HasErrors() {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for name, a := range attrs {
		inputs[name] = rawInput{expr: a.Expr, source: path, rng: a.Range}
	}
	return diags
}

// resolveVariables gives each declared variable its value and reports inputs
// for undeclared variables, missing required values, type errors and failed
// validations.
func resolveVariables(decls []*variableDecl, inputs map[string]rawInput, opts Options) ([]*Variable, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	declared := map[string]*variableDecl{}
	for _, d := range decls {
		declared[d.Name] = d
	}
	diags = append(diags, undeclaredInputs(declared, inputs)...)
	out := make([]*Variable, 0, len(decls))
	for _, d := range decls {
		val, vd := variableValue(d, inputs, opts)
		diags = append(diags, vd...)
		d.Value = val
		out = append(out, &d.Variable)
	}
	return out, diags
}

func undeclaredInputs(declared map[string]*variableDecl, inputs map[string]rawInput) hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := declared[n]; ok {
			continue
		}
		in := inputs[n]
		if strings.HasPrefix(in.source, "environment variable") {
			continue // like TF_VAR_, a stray CUTOVER_VAR_ in the shell must not break every plan
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
			Detail: fmt.Sprintf("A value for %q was given by %s, but the plan declares no variable of that name. Add a variable %q block, or remove the value.", n, in.source, n)}
		if in.rng.Filename != "" {
			d.Subject = in.rng.Ptr()
			d.Severity = hcl.DiagWarning // a shared var file may set more than this plan uses
		}
		diags = append(diags, d)
	}
	return diags
}

func variableValue(d *variableDecl, inputs map[string]rawInput, opts Options) (cty.Value, hcl.Diagnostics) {
	in, given := inputs[d.Name]
	switch {
	case given:
		return convertInput(d, in)
	case d.Default != nil:
		return *d.Default, nil
	case opts.Validating:
		return cty.UnknownVal(d.Type), nil
	}
	return cty.UnknownVal(d.Type), hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "No value for required variable",
		Detail: fmt.Sprintf("The variable %q has no default and no value was given. Set it with -var %s=..., a -var-file, or the environment variable %s%s.",
			d.Name, d.Name, EnvVarPrefix, d.Name),
		Subject: d.DeclRange.Ptr(),
	}}
}

func convertInput(d *variableDecl, in rawInput) (cty.Value, hcl.Diagnostics) {
	var val cty.Value
	var diags hcl.Diagnostics
	switch {
	case in.expr != nil:
		val, diags = in.expr.Value(nil)
	case d.Type == cty.String || d.Type == cty.DynamicPseudoType:
		val = cty.StringVal(in.text)
	default:
		// A -var or CUTOVER_VAR_ value of a non-string type is an HCL
		// literal; its own diagnostics would quote it, and it may be a
		// secret, so any problem gets one message that does not.
		expr, pd := parseLiteral(in)
		if pd.HasErrors() && pd[0].Summary == nestedSummary {
			pd[0].Detail = fmt.Sprintf("The value of %q from %s: %s", d.Name, in.source, pd[0].Detail)
			pd[0].Subject = d.DeclRange.Ptr()
			return cty.UnknownVal(d.Type), pd[:1]
		}
		if !pd.HasErrors() {
			val, pd = expr.Value(nil)
		}
		if pd.HasErrors() {
			return cty.UnknownVal(d.Type), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
				Detail: fmt.Sprintf("The value of %q from %s is not a %s literal (value not shown): write it as in HCL, e.g. %s.",
					d.Name, in.source, d.Type.FriendlyName(), literalExample(d.Type)), Subject: d.DeclRange.Ptr()}}
		}
	}
	if diags.HasErrors() {
		return cty.UnknownVal(d.Type), diags
	}
	conv, err := convert.Convert(val, d.Type)
	if err != nil {
		return cty.UnknownVal(d.Type), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("The value of %q from %s is not compatible with its type %s: %s.", d.Name, in.source, d.Type.FriendlyName(), err), Subject: d.DeclRange.Ptr()}}
	}
	return conv, nil
}

// weakSecret warns, at the variable's declaration, that a sensitive
// variable holds a value shorter than secret.WeakLength bytes: easy to
// guess, and masked in output only where it stands as a token of its own
// when shorter than secret.ShortLength. The value is never shown.
func weakSecret(v *Variable) *hcl.Diagnostic {
	shortest := -1
	hcldecode.EachString(v.Value, func(s string) {
		if s != "" && len(s) < secret.WeakLength && (shortest < 0 || len(s) < shortest) {
			shortest = len(s)
		}
	})
	if shortest < 0 {
		return nil
	}
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Weak sensitive value",
		Detail: fmt.Sprintf("The sensitive variable %q has a value of %d bytes (not shown), shorter than %d: a value that short is easy to guess, and under %d bytes it is masked in output only where it stands as a word of its own. Use a longer secret.",
			v.Name, shortest, secret.WeakLength, secret.ShortLength),
		Subject: v.DeclRange.Ptr()}
}

// checkValidations evaluates each variable's validation blocks with only
// var.<name> in scope.
func checkValidations(decls []*variableDecl, fns *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, d := range decls {
		for _, b := range d.Validations {
			diags = append(diags, checkValidation(d, b, fns)...)
		}
	}
	return diags
}

func checkValidation(d *variableDecl, b *hcl.Block, fns *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(validationSchema)
	if diags.HasErrors() || !d.Value.IsWhollyKnown() {
		return diags
	}
	ctx := fns.NewChild()
	ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{d.Name: d.Value})}
	cond, cd := content.Attributes["condition"].Expr.Value(ctx)
	diags = append(diags, cd...)
	msg, md := content.Attributes["error_message"].Expr.Value(ctx)
	diags = append(diags, md...)
	if diags.HasErrors() {
		return diags
	}
	cond, _ = cond.UnmarkDeep()
	cond, err := convert.Convert(cond, cty.Bool)
	if err != nil || cond.IsNull() {
		return append(diags, errorDiag("Invalid validation condition", "The condition must be true or false.", content.Attributes["condition"].Expr.Range()))
	}
	if cond.True() {
		return diags
	}
	text := "the value is not valid"
	if msg, _ = msg.UnmarkDeep(); msg.Type() == cty.String && msg.IsKnown() && !msg.IsNull() {
		text = msg.AsString()
	}
	return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
		Detail: fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", text, b.DefRange), Subject: d.DeclRange.Ptr()})
}

// variablesObject builds var.*, marking sensitive values.
func variablesObject(vars []*Variable) cty.Value {
	m := map[string]cty.Value{}
	for _, v := range vars {
		val := v.Value
		if v.Sensitive {
			val = val.Mark(hcldecode.SensitiveMark)
		}
		m[v.Name] = val
	}
	return cty.ObjectVal(m)
}
