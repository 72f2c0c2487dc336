package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cutover/cutover/internal/transport"
	"github.com/cutover/cutover/internal/transport/sshtransport"
	"github.com/cutover/cutover/steps"
	"github.com/cutover/cutover/steps/onhosts"
)

// gateType is the step type a `gate` block's body is decoded as.
const gateType = "health_check"

// decodeOn decodes the step's type-specific body: once on the operator's
// machine without `on`; with `on`, once with the hosts (env) or once per
// host with `node` bound to it, wrapped by package onhosts.
func (l *loader) decodeOn(s *Step, content *hcl.BodyContent, remain hcl.Body) (steps.Step, hcl.Diagnostics) {
	onAttr, hasOn := content.Attributes["on"]
	batchAttr, hasBatch := content.Attributes["batch"]
	gates := content.Blocks.OfType("gate")
	if !hasOn {
		var diags hcl.Diagnostics
		if hasBatch {
			diags = append(diags, errorDiag("batch without on", "batch says how many hosts run at once; it needs on = host.<name>, group.<name> or a list of them.", batchAttr.NameRange))
		}
		for _, g := range gates {
			diags = append(diags, errorDiag("gate without on", "A gate checks each host of a batch; it needs on = host.<name>, group.<name> or a list of them.", g.DefRange))
		}
		impl, d := s.Info.Decode(remain, l.decodeContext())
		return impl, append(diags, d...)
	}
	hosts, diags := l.hostList(onAttr.Expr, "on", true)
	if diags.HasErrors() {
		return nil, diags
	}
	s.On = hosts
	switch s.Info.Hosts {
	case steps.HostsInDecode:
		if hasBatch || len(gates) > 0 {
			rng := batchAttr
			if rng == nil {
				return nil, hcl.Diagnostics{errorDiag("Unsupported gate", fmt.Sprintf("A %s step changes every host's file as one set (checked identical before and after); batch and gate apply to %s.", s.Type, eachTypes()), gates[0].DefRange)}
			}
			return nil, hcl.Diagnostics{errorDiag("Unsupported batch", fmt.Sprintf("A %s step changes every host's file as one set (checked identical before and after); batch and gate apply to %s.", s.Type, eachTypes()), rng.NameRange)}
		}
		dc := l.decodeContext()
		dc.On = l.transports(hosts)
		dc.Eval = l.nodeEval("", nil)
		dc.NodeEval = func(i int) *hcl.EvalContext { return l.nodeEval(hosts[i], l.plan.Hosts[hosts[i]].Config()) }
		return s.Info.Decode(remain, dc)
	case steps.HostsEach:
		return l.decodeEach(s, hosts, batchAttr, gates, remain)
	}
	return nil, hcl.Diagnostics{errorDiag("Step cannot run on hosts", fmt.Sprintf("A %s step runs on the operator's machine only. The step types that take on are: env, %s.", s.Type, eachTypes()), onAttr.NameRange)}
}

// eachTypes names the step types decoded per host.
func eachTypes() string {
	var out []string
	for _, n := range steps.Names() {
		if t, _ := steps.Lookup(n); t.Hosts == steps.HostsEach {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

func (l *loader) transports(hosts []string) []transport.Transport {
	out := make([]transport.Transport, len(hosts))
	for i, h := range hosts {
		out[i] = l.plan.Hosts[h]
	}
	return out
}

// allHosts is hcldecode.Context.Hosts.
func (l *loader) allHosts() map[string]transport.Transport {
	out := make(map[string]transport.Transport, len(l.plan.Hosts))
	for n, h := range l.plan.Hosts {
		out[n] = h
	}
	return out
}

// decodeEach decodes the body (and the gate) once per host, with node
// bound to that host. Diagnostics that repeat across hosts are kept once.
func (l *loader) decodeEach(s *Step, hosts []string, batchAttr *hcl.Attribute, gates hcl.Blocks, remain hcl.Body) (steps.Step, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := &onhosts.Step{}
	if batchAttr != nil {
		var d hcl.Diagnostics
		out.Batch, d = l.batch(batchAttr)
		diags = append(diags, d...)
	}
	if len(gates) > 1 {
		diags = append(diags, errorDiag("Duplicate gate block", "A step has at most one gate block.", gates[1].DefRange))
	}
	gateInfo, _ := steps.Lookup(gateType)
	var gateBody hcl.Body
	if len(gates) > 0 {
		var d hcl.Diagnostics
		gateBody, out.GateTimeout, d = l.gateTimeout(gates[0])
		diags = append(diags, d...)
	}
	seen := map[string]bool{}
	keep := func(ds hcl.Diagnostics) {
		for _, d := range ds {
			key := d.Summary + d.Detail
			if d.Subject != nil {
				key += d.Subject.String()
			}
			if !seen[key] {
				seen[key] = true
				diags = append(diags, d)
			}
		}
	}
	for _, name := range hosts {
		h := l.plan.Hosts[name]
		dc := l.decodeContext()
		dc.Eval = l.nodeEval(name, h.Config())
		dc.On = []transport.Transport{h}
		impl, d := s.Info.Decode(remain, dc)
		keep(d)
		n := onhosts.Node{Name: name, Impl: impl, Host: h}
		if len(gates) > 0 {
			n.Gate, d = gateInfo.Decode(gateBody, dc)
			keep(d)
		}
		out.Nodes = append(out.Nodes, n)
	}
	if r := s.Rollback; r != nil && len(r.Command) > 0 {
		out.Rollback = &onhosts.RollbackCommand{Argv: r.Command, Secret: r.Secret, Env: r.Env}
	}
	return out, diags
}

// nodeEval is the evaluation context with node bound to the named host,
// or unknown (cfg nil).
func (l *loader) nodeEval(name string, cfg *sshtransport.Config) *hcl.EvalContext {
	ev := l.eval.NewChild()
	node := cty.UnknownVal(hostObject("", &sshtransport.Config{}).Type())
	if cfg != nil {
		node = hostObject(name, cfg)
	}
	ev.Variables = map[string]cty.Value{"node": node}
	return ev
}

var gateSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "timeout"}}}

// gateTimeout takes the gate's own timeout out of its body; the rest is a
// health_check body.
func (l *loader) gateTimeout(b *hcl.Block) (hcl.Body, time.Duration, hcl.Diagnostics) {
	content, remain, diags := b.Body.PartialContent(gateSchema)
	d, more := l.limit(exprOf(content.Attributes, "timeout"), "timeout")
	return remain, d, append(diags, more...)
}

func (l *loader) batch(a *hcl.Attribute) (int, hcl.Diagnostics) {
	val, diags := l.decodeContext().Value(a.Expr)
	if diags.HasErrors() || !val.IsKnown() {
		return 0, diags
	}
	if conv, err := convert.Convert(val, cty.Number); err == nil && !conv.IsNull() {
		val = conv
	}
	if val.Type() != cty.Number || !val.AsBigFloat().IsInt() || val.AsBigFloat().Sign() <= 0 {
		return 0, append(diags, errorDiag("Invalid batch", "batch must be a whole number of hosts of at least 1 (leave it out to run every host at once).", a.Expr.Range()))
	}
	n, _ := val.AsBigFloat().Int64()
	return int(n), diags
}
