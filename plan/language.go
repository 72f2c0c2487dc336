package plan

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/providers"
)

// TopBlock is one of the plan language's own top-level block types. The
// loader's top-level schema is built from Blocks (and providers.Kinds), and
// docs/reference.md is generated from the same list, so a block type added
// here is accepted and documented at once.
type TopBlock struct {
	Name   string
	Labels []string
	Doc    string
	// Config is a pointer to the struct whose tags (hcl, doc, default,
	// type, sensitive) are the block's attributes; nil for a body of free
	// attributes (locals).
	Config any
	// Steps marks the step block, whose body is StepCommon's attributes
	// plus its type's (steps.Lookup).
	Steps bool
}

// Blocks lists the plan language's own top-level blocks in the order the
// reference shows them. System blocks (kms, minio) come from
// providers.Kinds and their backends from providers.Register; step types
// from steps.Register.
var Blocks = []TopBlock{
	{Name: "cutover", Labels: []string{"name"}, Config: &cutoverBlock{},
		Doc: "The plan's name (which names its state directory .cutover/<name>), window and point of no return. At most one; without it the plan is named after its file."},
	{Name: "variable", Labels: []string{"name"}, Config: &variableBlock{},
		Doc: "An input, read as var.<name>. Values: default < CUTOVER_VAR_<name> < -var-file (in order) < -var (in order), as in Terraform."},
	{Name: "locals",
		Doc: "Named expressions, read as local.<name>: any attributes, evaluated in dependency order (a cycle is an error). Several locals blocks may be given."},
	{Name: "host", Labels: []string{"name"}, Config: &hostBlock{},
		Doc: "A machine reached over SSH, referred to as host.<name> (name, address, port, user) in a step's on. A plan without hosts runs everything on the operator's machine."},
	{Name: "group", Labels: []string{"name"}, Config: &groupBlock{},
		Doc: "A named list of hosts, referred to as group.<name> in a step's on."},
	{Name: "step", Labels: []string{"type", "name"}, Config: &commonStep{}, Steps: true,
		Doc: "One runbook step, run in file order and referred to as step.<type>.<name> (id, type, name, status, outputs). The attributes below are common to every step type; the rest of the body is the type's."},
	{Name: "state", Labels: []string{"type"}, Config: &stateBlock{},
		Doc: "Where the checkpoint and lock live: \"local\" (the default, .cutover/<name> beside the plan) or \"s3\" (shared on S3-compatible storage, so status, rollback, unlock and resume work from another machine; --state-url overrides it). At most one."},
}

// SystemTypeConfig is a pointer to the struct of the `type` attribute that
// a typed system block (providers.Kinds with Typed) chooses its backend
// with, for the reference.
func SystemTypeConfig() any { return &systemType{} }

func topSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, b := range Blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.Name, LabelNames: b.Labels})
	}
	for _, k := range providers.Kinds {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k.Name, LabelNames: []string{"name"}})
	}
	return s
}
