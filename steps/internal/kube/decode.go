package kube

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	kcfg "github.com/cutover/cutover/providers/kubernetes"
)

// Attr is the step attribute that sends an env or restart step to a
// Kubernetes cluster instead of files and commands.
const Attr = "kubernetes"

// Target is the cluster and objects a step names.
type Target struct {
	Cluster *kcfg.Config // nil while unresolved (validate)
	Refs    []Ref
}

// Rule is what one step type accepts with kubernetes set.
type Rule struct {
	// Step is the step type, for messages ("env", "restart").
	Step string
	// Workloads limits the objects to Deployments and StatefulSets.
	Workloads bool
	// Refuse are the step's attributes that have no meaning with
	// kubernetes (files, command...); Why says so in a sentence.
	Refuse []string
	Why    string
	// Example is an objects value for the hint, such as ["secret/x"].
	Example string
}

// DecodeTarget resolves expr (kubernetes = kubernetes.<name>) and parses
// objects ("<kind>/<name>"), reporting a missing objects attribute, the
// attributes the rule refuses, and bad objects (at the objects attribute).
// attrs are the step body's attributes.
func DecodeTarget(dc *hcldecode.Context, body hcl.Body, attrs hcl.Attributes, expr hcl.Expression, objects []string, rule Rule) (Target, hcl.Diagnostics) {
	var t Target
	var diags hcl.Diagnostics
	for _, name := range rule.Refuse {
		if a := attrs[name]; a != nil {
			diags = append(diags, hcldecode.AttrError("Not for Kubernetes", name+" "+rule.Why, a))
		}
	}
	a := attrs["objects"]
	if a == nil {
		return t, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing objects",
			Detail: "A" + an(rule.Step) + " " + rule.Step + " step with kubernetes needs objects, such as " + rule.Example + ".", Subject: body.MissingItemRange().Ptr()})
	}
	if expr != nil {
		var d hcl.Diagnostics
		t.Cluster, d = kcfg.Resolve(dc, expr, Attr)
		diags = append(diags, d...)
	}
	if !dc.Known(a) {
		return t, diags
	}
	if len(objects) == 0 {
		diags = append(diags, hcldecode.AttrError("No objects", "objects must name at least one object, such as "+rule.Example+".", a))
	}
	seen := map[Ref]bool{}
	for _, o := range objects {
		ref, err := ParseRef(o)
		switch {
		case err != nil:
			diags = append(diags, hcldecode.AttrError("Invalid object", err.Error()+".", a))
			continue
		case rule.Workloads && !ref.Workload():
			diags = append(diags, hcldecode.AttrError("Not a workload", fmt.Sprintf("%s cannot be restarted: name a deployment or statefulset.", ref), a))
			continue
		case seen[ref]:
			diags = append(diags, hcldecode.AttrError("Duplicate object", fmt.Sprintf("%s is named twice.", ref), a))
			continue
		}
		seen[ref] = true
		t.Refs = append(t.Refs, ref)
	}
	return t, diags
}

// an is "n" before a word starting with a vowel.
func an(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}
