package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/secret"
)

// Options are the inputs of Load besides the plan file.
type Options struct {
	// Vars are -var NAME=VALUE options, in order.
	Vars []string
	// VarFiles are -var-file paths, in order.
	VarFiles []string
	// Environ is the process environment (KEY=VALUE); nil means os.Environ().
	// It feeds CUTOVER_VAR_<name> and env().
	Environ []string
	// Validating allows variables without values (they stay unknown), for
	// `cutover validate`.
	Validating bool
	// Now is the clock for timestamp(); nil means time.Now.
	Now func() time.Time
}

func (o Options) environ() map[string]string {
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

type parser struct {
	hp  *hclparse.Parser
	lim limits
}

// read reads a plan or variables file within the size limit.
func (p *parser) read(path, what string) ([]byte, hcl.Diagnostics) {
	return readBounded(path, what, p.lim.fileBytes)
}

// parse parses src after checking its nesting depth: hcl's parser recurses
// per level and would overflow the stack on a deep enough expression.
func (p *parser) parse(path string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if diags := checkNesting(src, path, p.lim.depth); diags.HasErrors() {
		return nil, diags
	}
	if strings.HasSuffix(path, ".json") {
		return p.hp.ParseJSON(src, path)
	}
	return p.hp.ParseHCL(src, path)
}

// Load reads, decodes and checks the plan at path. The returned Plan is never
// nil: even with errors its Files are set so diagnostics can show snippets.
// The plan is usable only when the diagnostics hold no error.
func Load(path string, opts Options) (*Plan, hcl.Diagnostics) {
	lim, diags := loadLimits(opts.environ())
	p := &parser{hp: hclparse.NewParser(), lim: lim}
	pl := &Plan{File: path, Dir: filepath.Dir(path), Secrets: &secret.Set{}, Systems: map[string]any{}}
	pl.Files = p.hp.Files()
	if diags.HasErrors() {
		return pl, diags
	}
	src, diags := p.read(path, "plan file")
	if diags.HasErrors() {
		return pl, diags
	}
	sum := sha256.Sum256(src)
	pl.Hash = hex.EncodeToString(sum[:])
	f, diags := p.parse(path, src)
	if diags.HasErrors() {
		return pl, diags
	}
	content, d := f.Body.Content(topSchema())
	diags = append(diags, d...)
	l := &loader{plan: pl, parser: p, opts: opts, content: content}
	diags = append(diags, l.load()...)
	return pl, diags
}

// loader carries the state of one Load.
type loader struct {
	plan    *Plan
	parser  *parser
	opts    Options
	content *hcl.BodyContent
	eval    *hcl.EvalContext
	// stepIndex maps step IDs to their position, filled before decoding.
	stepIndex map[string]int
	systems   map[string]cty.Value // kind -> object of name -> object
	groups    map[string][]string  // group name -> host names
}

func (l *loader) load() hcl.Diagnostics {
	now := l.opts.Now
	if now == nil {
		now = time.Now
	}
	l.eval = &hcl.EvalContext{Functions: functions(l.plan.Dir, l.opts.environ(), now)}
	diags := l.loadVariables()
	diags = append(diags, l.declareSystems()...)
	diags = append(diags, l.declareSteps()...)
	diags = append(diags, l.loadLocals()...)
	diags = append(diags, l.decodeHosts()...)
	diags = append(diags, l.decodeSystems()...)
	diags = append(diags, l.decodeCutover()...)
	diags = append(diags, l.decodeState()...)
	diags = append(diags, l.decodeSteps()...)
	l.plan.Eval = l.eval
	return diags
}

func (l *loader) loadVariables() hcl.Diagnostics {
	var diags hcl.Diagnostics
	var decls []*variableDecl
	seen := map[string]*hcl.Block{}
	for _, b := range l.content.Blocks.OfType("variable") {
		if prev, dup := seen[b.Labels[0]]; dup {
			diags = append(diags, duplicateDiag("variable", b.Labels[0], prev, b))
			continue
		}
		seen[b.Labels[0]] = b
		v, d := decodeVariable(b)
		diags = append(diags, d...)
		decls = append(decls, v)
	}
	inputs, d := collectInputs(l.opts, l.parser)
	diags = append(diags, d...)
	vars, d := resolveVariables(decls, inputs, l.opts)
	diags = append(diags, d...)
	diags = append(diags, checkValidations(decls, l.eval)...)
	l.plan.Variables = vars
	for _, v := range vars {
		if v.Sensitive && v.Value.IsWhollyKnown() {
			hcldecode.RecordStrings(v.Value, l.plan.Secrets)
			if d := weakSecret(v); d != nil {
				diags = append(diags, d)
			}
		}
	}
	l.setVar("var", variablesObject(vars))
	return diags
}

func (l *loader) setVar(name string, val cty.Value) {
	if l.eval.Variables == nil {
		l.eval.Variables = map[string]cty.Value{}
	}
	l.eval.Variables[name] = val
}

func duplicateDiag(what, name string, prev, b *hcl.Block) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s %q", what, name),
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique; rename one of them.", what, name, prev.DefRange),
		Subject:  b.DefRange.Ptr(),
	}
}

func (l *loader) decodeContext() *hcldecode.Context {
	return &hcldecode.Context{
		Eval:       l.eval,
		Secrets:    l.plan.Secrets,
		Resolve:    l.resolve,
		BaseDir:    l.plan.Dir,
		Validating: l.opts.Validating,
		Systems:    l.systemsOf,
		Earlier:    l.earlierSteps,
		Hosts:      l.allHosts,
	}
}

// systemsOf returns the decoded system blocks of kind, by reference.
func (l *loader) systemsOf(kind string) map[string]any {
	out := map[string]any{}
	for ref, obj := range l.plan.Systems {
		if strings.HasPrefix(ref, kind+".") {
			out[ref] = obj
		}
	}
	return out
}

// earlierSteps returns the steps decoded so far, in plan order.
func (l *loader) earlierSteps() []hcldecode.EarlierStep {
	out := make([]hcldecode.EarlierStep, 0, len(l.plan.Steps))
	for _, s := range l.plan.Steps {
		out = append(out, hcldecode.EarlierStep{ID: s.ID, Impl: s.Impl})
	}
	return out
}

// resolve finds what a reference names: a decoded system for kms.x and
// minio.x, the decoded steps.Step for step.type.name (nil while it is not
// decoded yet or has errors).
func (l *loader) resolve(kind string, tr hcl.Traversal) (any, bool) {
	names := traversalNames(tr)
	if kind == "step" {
		if len(names) < 3 {
			return nil, false
		}
		id := names[1] + "." + names[2]
		if _, ok := l.stepIndex[id]; !ok {
			return nil, false
		}
		if s := l.plan.Step(id); s != nil {
			return s.Impl, true
		}
		return nil, true
	}
	if len(names) < 2 {
		return nil, false
	}
	obj, ok := l.plan.Systems[kind+"."+names[1]]
	return obj, ok
}

func traversalNames(tr hcl.Traversal) []string { return hcldecode.TraversalNames(tr) }
