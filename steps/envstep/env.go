// Package envstep is the `env` step: set, unset and comment out variables in
// one or many env files (one per node, like /etc/default/minio), atomically,
// with a SHA-256 uniformity check across the files before and after the
// change, and a byte-for-byte restore as its compensation. With
// `kubernetes = kubernetes.<name>` the variables are instead the data of
// Secrets and ConfigMaps or a workload's pod template env (kube.go).
//
// Before a file is written its original bytes are saved as undo data (kept
// 0600 in the state directory, never printed, since env files hold secrets).
// The new content is always computed from those original bytes, so running
// the step again after a crash gives the same files.
package envstep

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/minio"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "env", Doc: "Sets, unsets and comments out variables in one or many env files (one per node), atomically, checking the files are identical before and after; the compensation restores them byte for byte.", Config: &Config{}, Kind: steps.KindChange, Idempotent: true, UndoFromRecord: true, Hosts: steps.HostsInDecode, Decode: decode})
}

// Config is the body of an env step.
type Config struct {
	Files   []string       `hcl:"files,optional" doc:"The env files, one per node (systemd EnvironmentFile syntax); relative to the plan's directory. Required unless kubernetes is set."`
	Set     hcl.Expression `hcl:"set,optional" type:"map(string)" doc:"Variables to set, name = value. A value from a sensitive input is shown as (sensitive) in diffs; a value holding NUL, a newline or a carriage return is refused."`
	Unset   []string       `hcl:"unset,optional" doc:"Variables to remove."`
	Comment []string       `hcl:"comment,optional" doc:"Variables to comment out (kept in the file, inactive)."`
	// RequireIdentical, default true, refuses to change files that differ
	// before the change and checks they are identical after it.
	RequireIdentical *bool `hcl:"require_identical,optional" default:"true" doc:"Whether files that differ before the change are refused, and checked identical after it."`
	// MinIO names the deployment whose env files these are; required when
	// the step changes a MINIO_KMS_* variable.
	MinIO hcl.Expression `hcl:"minio,optional" type:"reference to minio.<name>" doc:"The deployment whose env files these are; required when the step changes a MINIO_KMS_* variable, so cutover checks MinIO's default key at the new KMS before any downtime."`
	// Kubernetes, Objects and Container send the step to a cluster
	// instead of files (kube.go).
	Kubernetes hcl.Expression `hcl:"kubernetes,optional" type:"reference to kubernetes.<name>" doc:"Change Kubernetes objects of this cluster instead of files: with objects, replaces files (comment and minio do not apply)."`
	Objects    []string       `hcl:"objects,optional" doc:"With kubernetes: the objects whose variables change, \"<kind>/<name>\" in the cluster's namespace: secret/NAME or configmap/NAME (data keys), deployment/NAME or statefulset/NAME (the pod template's env). They must agree on the variables changed (require_identical)."`
	Container  string         `hcl:"container,optional" doc:"With kubernetes and a deployment or statefulset: the container whose env changes; may be left out when the pod template has one container."`
}

// Step edits env files.
type Step struct {
	paths     []string
	set       map[string]string
	setKeys   []string
	sensitive map[string]bool // keys whose new value came from a sensitive input
	unset     []string
	comment   []string
	identical bool
	// nodes are the hosts whose copies of paths the step edits (`on`);
	// empty: the operator's machine. hosts finds any host of the plan.
	nodes     []transport.Transport
	nodePaths [][]string // each node's paths, when files names node
	hosts     func() map[string]transport.Transport
	// minio is set when the step changes MinIO's KMS variables: then its
	// preflight, and its Apply, check MinIO's default key (defaultkey.go).
	minio     *minio.Config
	kmsBlocks map[string]any // the plan's kms blocks, by reference
	writers   []writer       // earlier steps that copy keys
}

// minioStep is an env step that changes MinIO's KMS: a steps.Cleaner,
// which reports in the rollback keys MinIO created at its new KMS.
type minioStep struct{ *Step }

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	if c.Kubernetes != nil {
		return decodeKube(body, c, dc, diags)
	}
	s := &Step{unset: c.Unset, comment: c.Comment, identical: c.RequireIdentical == nil || *c.RequireIdentical, nodes: dc.On, hosts: dc.Hosts}
	if len(s.nodes) == 0 {
		for _, f := range c.Files {
			s.paths = append(s.paths, dc.Path(f))
		}
	} else {
		diags = append(diags, s.decodeNodeFiles(body, c, dc)...)
	}
	if c.Set != nil {
		var d hcl.Diagnostics
		s.set, s.sensitive, d = decodeSet(c.Set, dc)
		diags = append(diags, d...)
	}
	for k := range s.set {
		s.setKeys = append(s.setKeys, k)
	}
	sort.Strings(s.setKeys)
	diags = append(diags, s.check(body, c, dc)...)
	diags = append(diags, s.decodeMinIO(body, c, dc)...)
	if s.minio != nil {
		return minioStep{s}, diags
	}
	return s, diags
}

// decodeNodeFiles reads files for a step on hosts: absolute paths on each
// host, evaluated per host when they name node (files =
// ["/srv/${node.name}/app.env"]).
func (s *Step) decodeNodeFiles(body hcl.Body, c Config, dc *hcldecode.Context) hcl.Diagnostics {
	attr := hcldecode.Attributes(body, &c)["files"]
	if attr == nil {
		return nil
	}
	per := [][]string{c.Files}
	if refersToNode(attr.Expr) && dc.NodeEval != nil {
		per = make([][]string, len(dc.On))
		for i := range dc.On {
			val, diags := attr.Expr.Value(dc.NodeEval(i))
			if diags.HasErrors() {
				return diags
			}
			list, err := convert.Convert(val, cty.List(cty.String))
			if err == nil {
				err = gocty.FromCtyValue(list, &per[i])
			}
			if err != nil {
				return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Incorrect attribute value type", Detail: "files must be a list of paths.", Subject: attr.Expr.Range().Ptr()}}
			}
		}
		s.nodePaths = per
	}
	s.paths = per[0]
	var diags hcl.Diagnostics
	for _, paths := range per {
		for _, f := range paths {
			if !path.IsAbs(f) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Relative path on hosts",
					Detail:  fmt.Sprintf("%q: a file on the step's hosts must be an absolute path there, such as \"/etc/default/minio\".", f),
					Subject: attr.Expr.Range().Ptr()})
			}
		}
	}
	return diags
}

func refersToNode(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "node" {
			return true
		}
	}
	return false
}

// decodeMinIO links the step to its MinIO deployment. A step that changes
// a MINIO_KMS_* variable must name one: the link cannot be left out by
// accident, since the variables themselves call for it, and it is what
// makes cutover check MinIO's default key without a kms_check step.
func (s *Step) decodeMinIO(body hcl.Body, c Config, dc *hcldecode.Context) hcl.Diagnostics {
	kmsVars := touchesKMS(s.setKeys, s.unset, s.comment)
	if c.MinIO == nil {
		if !kmsVars {
			return nil
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing minio",
			Detail: "This env step changes MinIO's KMS variables (" + kmsPrefix + "*). Add minio = minio.<name>, the deployment whose env files these are: " +
				"cutover then checks, before any downtime, that MinIO's default key exists at the new KMS and is the key MinIO's objects were sealed with.",
			Subject: body.MissingItemRange().Ptr()}}
	}
	cfg, diags := minio.Resolve(dc, c.MinIO, "minio")
	if diags.HasErrors() || cfg == nil {
		return diags
	}
	s.minio = cfg
	if dc.Systems != nil {
		s.kmsBlocks = dc.Systems(providers.KindKMS)
	}
	if dc.Earlier != nil {
		for _, e := range dc.Earlier() {
			if w, ok := e.Impl.(steps.KeyWriter); ok {
				s.writers = append(s.writers, writer{e.ID, w})
			}
		}
	}
	return diags
}

func (s *Step) check(body hcl.Body, c Config, dc *hcldecode.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: body.MissingItemRange().Ptr()})
	}
	switch a := hcldecode.Attributes(body, &c)["files"]; {
	case a == nil:
		bad("Missing required argument", "An env step needs files, the env files to change (such as [\"/etc/default/minio\"]), or kubernetes and objects, the Kubernetes objects to change.")
	case len(c.Files) == 0 && dc.Known(a):
		bad("No env files", "files must list at least one env file, such as [\"/etc/default/minio\"].")
	}
	for _, k := range append(append(append([]string{}, s.setKeys...), s.unset...), s.comment...) {
		if !envfile.ValidKey(k) {
			bad("Invalid variable name", fmt.Sprintf("%q is not a valid environment variable name.", k))
		}
	}
	if c.Set == nil && len(s.unset)+len(s.comment) == 0 {
		bad("Nothing to change", "An env step needs at least one of set, unset or comment.")
	}
	return diags
}

// decodeSet evaluates the set map, noting which keys hold sensitive values.
func decodeSet(expr hcl.Expression, dc *hcldecode.Context) (map[string]string, map[string]bool, hcl.Diagnostics) {
	val, diags := expr.Value(dc.Eval)
	if diags.HasErrors() || !val.IsKnown() {
		return nil, nil, diags
	}
	if !val.CanIterateElements() || val.Type().IsListType() || val.Type().IsTupleType() || val.Type().IsSetType() {
		return nil, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
			Detail: "set must be a map of variable names to string values, such as { KMS_PROVIDER = \"AWS\" }.", Subject: expr.Range().Ptr()})
	}
	out, sensitive := map[string]string{}, map[string]bool{}
	for it := val.ElementIterator(); it.Next(); {
		k, v := it.Element()
		key, _ := k.Unmark()
		if !v.IsWhollyKnown() {
			// an input without a value (validate, or a rollback given only
			// the inputs it uses): its value is unknown, so never shown
			sensitive[key.AsString()] = true
			continue
		}
		str, d := stringValue(v, dc, expr)
		if d.HasErrors() {
			return nil, nil, append(diags, d...)
		}
		if d := checkValue(key.AsString(), str, itemExpr(expr, key.AsString())); d != nil {
			diags = append(diags, d)
			continue
		}
		out[key.AsString()] = str
		sensitive[key.AsString()] = v.ContainsMarked()
	}
	return out, sensitive, diags
}

// checkValue refuses a value no env file can hold as one line: one with a
// NUL, a newline or a carriage return (a reader would see a second
// variable, or a cut value). The value itself is never quoted: it may be
// a secret. expr is the value's expression in the set map.
func checkValue(key, value string, expr hcl.Expression) *hcl.Diagnostic {
	var what string
	switch {
	case strings.ContainsRune(value, 0):
		what = "a NUL byte"
	case strings.ContainsAny(value, "\n\r"):
		what = "a newline or carriage return"
	default:
		return nil
	}
	from := ""
	for _, tr := range expr.Variables() {
		if tr.RootName() == "var" && len(tr) > 1 {
			if at, ok := tr[1].(hcl.TraverseAttr); ok {
				from = fmt.Sprintf(" (it comes from var.%s)", at.Name)
				break
			}
		}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid env value",
		Detail:  fmt.Sprintf("The value to set for %s%s contains %s, which an env file cannot hold on one line; nothing was written. Remove it, or encode the value (base64) and decode it in the service.", key, from, what),
		Subject: expr.Range().Ptr()}
}

// itemExpr returns the expression of key's value in a map constructor, or
// the whole expression when it is not one (a variable holding a map).
func itemExpr(expr hcl.Expression, key string) hcl.Expression {
	items, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return expr
	}
	for _, it := range items {
		k, d := it.Key.Value(nil)
		if !d.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() && k.AsString() == key {
			return it.Value
		}
	}
	return expr
}
