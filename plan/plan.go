// Package plan reads a cutover runbook: HCL files with a `cutover` block,
// `variable` and `locals` blocks, system blocks (`kms`, `minio`) decoded through
// the providers registry, and ordered `step "<type>" "<name>"` blocks decoded
// through the steps registry.
//
// Load checks everything it can without contacting any system: syntax, unknown
// or missing attributes, types, dangling and forward references, duplicate
// names, unknown step or backend types, variable validations and cycles among
// locals. Every problem is an hcl.Diagnostic with a source range; Load reports
// all of them at once, never only the first.
package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/cutover/cutover/internal/secret"
	"github.com/cutover/cutover/internal/transport/sshtransport"
	"github.com/cutover/cutover/steps"
)

// Plan is a loaded, checked runbook.
type Plan struct {
	Name        string
	Description string
	// File is the plan file's path as given; Dir is its directory.
	File string
	Dir  string
	// Window is the budget from the first downtime step; 0 means none.
	Window time.Duration
	// Margin is the part of the window a rehearsal's verdict keeps free:
	// the measured downtime plus the rollback must fit in Window - Margin.
	Margin time.Duration
	// PointOfNoReturn is the ID of the step after which no automatic rollback
	// happens; "" means none.
	PointOfNoReturn string
	// State is the plan's state block; nil means the local directory,
	// unencrypted.
	State     *StateConfig
	Variables []*Variable
	Steps     []*Step
	// Systems are the decoded system blocks by reference ("kms.local").
	Systems map[string]any
	// Hosts are the `host` blocks by name, HostOrder their names in file
	// order; empty for a plan that runs on the operator's machine only.
	Hosts     map[string]*sshtransport.Host
	HostOrder []string
	// Files are the parsed sources, for printing diagnostics with snippets.
	Files map[string]*hcl.File
	// Hash is the SHA-256 of the plan file's bytes.
	Hash string
	// Secrets holds every sensitive value the plan's inputs produced.
	Secrets *secret.Set
	// Eval is the evaluation context (var, local, kms, minio, step, functions).
	Eval *hcl.EvalContext
}

// Variable is a declared input and its value.
type Variable struct {
	Name        string
	Description string
	Sensitive   bool
	Value       cty.Value // unmarked; unknown when not set under validation
	DeclRange   hcl.Range
}

// Step is one step block, decoded.
type Step struct {
	ID            string // "<type>.<name>"
	Type          string
	Name          string
	Description   string
	Info          steps.Type
	Impl          steps.Step
	Timeout       time.Duration // 0: none
	Retries       int
	RetryInterval time.Duration
	// When, if set, is evaluated before the step runs; false skips it.
	When hcl.Expression
	// Rollback overrides the step's compensation.
	Rollback *RollbackOverride
	// On lists the hosts the step runs on (`on`), in order; empty: the
	// operator's machine.
	On []string
	// Vars are the variables the step's block refers to, directly or
	// through locals and system blocks (AllVariables: unknown, so all).
	Vars      []string
	DeclRange hcl.Range
}

// RollbackOverride is a step's `rollback {}` block.
type RollbackOverride struct {
	// Command, if set, runs instead of the step type's own compensation.
	Command []string
	// Secret marks the arguments of Command that come from sensitive
	// values: they are shown masked (see command.Describe).
	Secret []bool
	// Env is set for Command over the environment it inherits (which holds
	// none of the plan's inputs: see command.ChildEnv).
	Env map[string]string
	// Skip leaves the step out of the rollback altogether.
	Skip bool
}

// Step returns the step with id, or nil.
func (p *Plan) Step(id string) *Step {
	for _, s := range p.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Index returns the position of step id in the plan, or -1.
func (p *Plan) Index(id string) int {
	for i, s := range p.Steps {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// InputsMAC is an HMAC-SHA256 under key over every variable's name and
// value. A checkpoint stores it to refuse resuming with different inputs;
// the key (kept 0600 in the state directory, never printed) is what keeps
// a low-entropy secret from being guessed offline from it: a salted hash
// printed beside its salt would not.
func (p *Plan) InputsMAC(key []byte) string {
	h := hmac.New(sha256.New, key)
	names := make([]string, 0, len(p.Variables))
	byName := map[string]*Variable{}
	for _, v := range p.Variables {
		names = append(names, v.Name)
		byName[v.Name] = v
	}
	sort.Strings(names)
	for _, n := range names {
		v := byName[n]
		data, err := ctyjson.Marshal(v.Value, v.Value.Type())
		if err != nil {
			data, _ = json.Marshal(v.Value.GoString())
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Missing lists the variables without a value (possible only when loaded
// with Options.Validating), in declaration order.
func (p *Plan) Missing() []string {
	var out []string
	for _, v := range p.Variables {
		if !v.Value.IsWhollyKnown() {
			out = append(out, v.Name)
		}
	}
	return out
}
