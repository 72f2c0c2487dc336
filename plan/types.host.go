package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/suggest"
	"github.com/cutover/cutover/internal/transport/sshtransport"
)

// hostBlock is the body of a `host "<name>"` block.
type hostBlock struct {
	Address        string         `hcl:"address" doc:"The host's address (name or IP) for SSH."`
	Port           int            `hcl:"port,optional" default:"22" doc:"The SSH port."`
	User           string         `hcl:"user" doc:"The user cutover logs in as; it must be able to read and replace the files the steps edit."`
	IdentityFile   string         `hcl:"identity_file,optional" doc:"An unencrypted private key file (relative to the plan's directory; ~/ is the operator's home). Exactly one of identity_file and agent."`
	Agent          bool           `hcl:"agent,optional" default:"false" doc:"Authenticate with the keys of the ssh-agent at SSH_AUTH_SOCK (an encrypted key belongs there)."`
	KnownHosts     string         `hcl:"known_hosts,optional" default:"~/.ssh/known_hosts" doc:"The known_hosts file the host's key must be in; an unknown or changed key is refused at preflight, showing its SHA-256 fingerprint."`
	JumpHost       hcl.Expression `hcl:"jump_host,optional" type:"host reference" doc:"A host (host.<name>) the connection goes through, as ssh -J."`
	ConnectTimeout hcl.Expression `hcl:"connect_timeout,optional" type:"duration" default:"\"10s\"" doc:"Bounds the TCP connect plus the SSH handshake: a host that accepts the connection and never answers fails then."`
	Timeout        hcl.Expression `hcl:"timeout,optional" type:"duration" default:"\"30s\"" doc:"Bounds each file operation (read, check, replace) and clock reading; past it the connection is closed. A command's deadline is its step's timeout."`
	MaxClockSkew   hcl.Expression `hcl:"max_clock_skew,optional" type:"duration" default:"\"5s\"" doc:"The preflight measures the host's clock against the operator's and refuses the run beyond this."`
}

// groupBlock is the body of a `group "<name>"` block.
type groupBlock struct {
	Hosts hcl.Expression `hcl:"hosts" type:"list of host references" doc:"The group's hosts, such as [host.a, host.b], in the order steps handle them."`
}

// hostObject is what host.<name> (and node, in a step run on each host)
// evaluates to.
func hostObject(name string, c *sshtransport.Config) cty.Value {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return cty.ObjectVal(map[string]cty.Value{
		"id": cty.StringVal("host." + name), "name": cty.StringVal(name),
		"address": cty.StringVal(c.Address), "port": cty.NumberIntVal(int64(port)), "user": cty.StringVal(c.User),
	})
}

// decodeHosts decodes the host and group blocks and makes host.<name> and
// group.<name> referable.
func (l *loader) decodeHosts() hcl.Diagnostics {
	var diags hcl.Diagnostics
	l.plan.Hosts = map[string]*sshtransport.Host{}
	jumps := map[string]hcl.Expression{}
	objs := map[string]cty.Value{}
	seen := map[string]*hcl.Block{}
	for _, b := range l.content.Blocks.OfType("host") {
		name := b.Labels[0]
		if prev, dup := seen[name]; dup {
			diags = append(diags, duplicateDiag("host", name, prev, b))
			continue
		}
		seen[name] = b
		if checkpoint.ValidName(name) != nil {
			diags = append(diags, errorDiag("Invalid host name", fmt.Sprintf("%q is not a valid host name: a host name must be %s (it names the node in the checkpoint).", name, checkpoint.NameRuleText), b.LabelRanges[0]))
			continue
		}
		cfg, jump, d := l.decodeHost(name, b)
		diags = append(diags, d...)
		// declared even with errors, so references to it do not cascade
		l.plan.Hosts[name] = sshtransport.New(cfg)
		l.plan.HostOrder = append(l.plan.HostOrder, name)
		objs[name] = hostObject(name, cfg)
		if jump != nil {
			jumps[name] = jump
		}
	}
	diags = append(diags, l.linkJumps(jumps)...)
	l.setVar("host", cty.ObjectVal(objs))
	diags = append(diags, l.decodeGroups()...)
	return diags
}

func (l *loader) decodeHost(name string, b *hcl.Block) (*sshtransport.Config, hcl.Expression, hcl.Diagnostics) {
	var hb hostBlock
	dc := l.decodeContext()
	diags := dc.DecodeBody(b.Body, &hb)
	cfg := &sshtransport.Config{Name: name, Address: hb.Address, Port: hb.Port, User: hb.User, Agent: hb.Agent,
		IdentityFile: dc.Path(home(hb.IdentityFile)), KnownHosts: dc.Path(home(hb.KnownHosts))}
	if diags.HasErrors() {
		return cfg, nil, diags
	}
	var d hcl.Diagnostics
	for _, t := range []struct {
		expr hcl.Expression
		attr string
		out  *time.Duration
	}{{hb.ConnectTimeout, "connect_timeout", &cfg.ConnectTimeout}, {hb.Timeout, "timeout", &cfg.CallTimeout}, {hb.MaxClockSkew, "max_clock_skew", &cfg.MaxClockSkew}} {
		*t.out, d = l.duration(t.expr, t.attr)
		diags = append(diags, d...)
	}
	rng := b.DefRange
	hasIdentity := cfg.IdentityFile != "" || l.unknownAttr(b, "identity_file")
	if hasIdentity == cfg.Agent {
		diags = append(diags, errorDiag("Invalid host authentication", fmt.Sprintf("host %q needs exactly one of identity_file = \"<private key file>\" or agent = true (the ssh-agent at SSH_AUTH_SOCK).", name), rng))
	}
	if hb.Port < 0 || hb.Port > 65535 {
		diags = append(diags, errorDiag("Invalid port", fmt.Sprintf("port %d is not a TCP port (1-65535; default 22).", hb.Port), rng))
	}
	if cfg.KnownHosts == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cfg.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
	return cfg, hb.JumpHost, diags
}

// unknownAttr reports whether block b sets attribute name to a value not
// known yet (an input `validate` has not been given): it is set, and is
// checked when the value is known.
func (l *loader) unknownAttr(b *hcl.Block, name string) bool {
	content, _, _ := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	a, ok := content.Attributes[name]
	if !ok {
		return false
	}
	v, _ := l.decodeContext().Value(a.Expr)
	return !v.IsKnown()
}

// home expands a leading ~/ to the operator's home directory.
func home(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, rest)
		}
	}
	return p
}

// linkJumps resolves each jump_host = host.<name>, refusing unknown hosts
// and cycles.
func (l *loader) linkJumps(jumps map[string]hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(jumps) {
		expr := jumps[name]
		target, d := l.hostRef(expr, "jump_host")
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		l.plan.Hosts[name].Config().Jump = l.plan.Hosts[target].Config()
	}
	for _, name := range sortedKeys(jumps) {
		seen := map[*sshtransport.Config]bool{}
		for c := l.plan.Hosts[name].Config(); c != nil; c = c.Jump {
			if seen[c] {
				diags = append(diags, errorDiag("Jump host cycle", fmt.Sprintf("host %q reaches itself through jump_host; a jump host chain must end at a host without jump_host.", name), jumps[name].Range()))
				l.plan.Hosts[name].Config().Jump = nil
				break
			}
			seen[c] = true
		}
	}
	return diags
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hostRef checks that expr is host.<name> naming a declared host.
func (l *loader) hostRef(expr hcl.Expression, attr string) (string, hcl.Diagnostics) {
	tr, d := hcl.AbsTraversalForExpr(expr)
	names := traversalNames(tr)
	if d.HasErrors() || len(names) != 2 || names[0] != "host" {
		return "", hcl.Diagnostics{errorDiag("Invalid reference", fmt.Sprintf("%s must refer to a host block, such as host.bastion.", attr), expr.Range())}
	}
	if _, ok := l.plan.Hosts[names[1]]; !ok {
		return "", hcl.Diagnostics{l.undeclared("host", names[1], l.plan.HostOrder, expr.Range())}
	}
	return names[1], nil
}

func (l *loader) undeclared(kind, name string, known []string, rng hcl.Range) *hcl.Diagnostic {
	detail := fmt.Sprintf("There is no %s named %q in this plan (or its block has errors).", kind, name)
	if s := suggest.Closest(name, known); s != "" {
		detail = fmt.Sprintf("There is no %s named %q; did you mean %s.%s?", kind, name, kind, s)
	}
	if len(known) > 0 {
		detail += fmt.Sprintf(" The %ss are: %s.", kind, strings.Join(known, ", "))
	}
	return errorDiag("Reference to undeclared "+kind, detail, rng)
}

func (l *loader) decodeGroups() hcl.Diagnostics {
	var diags hcl.Diagnostics
	l.groups = map[string][]string{}
	objs := map[string]cty.Value{}
	seen := map[string]*hcl.Block{}
	for _, b := range l.content.Blocks.OfType("group") {
		name := b.Labels[0]
		if prev, dup := seen[name]; dup {
			diags = append(diags, duplicateDiag("group", name, prev, b))
			continue
		}
		seen[name] = b
		var gb groupBlock
		d := l.decodeContext().DecodeBody(b.Body, &gb)
		if !d.HasErrors() {
			var hosts []string
			hosts, d = l.hostList(gb.Hosts, "hosts", false)
			l.groups[name] = hosts
			if len(hosts) == 0 && !d.HasErrors() {
				d = append(d, errorDiag("Empty group", fmt.Sprintf("group %q lists no host.", name), gb.Hosts.Range()))
			}
		}
		diags = append(diags, d...)
		objs[name] = cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal("group." + name), "name": cty.StringVal(name)})
	}
	l.setVar("group", cty.ObjectVal(objs))
	return diags
}

// hostList reads host.<name> references (and, with groups, group.<name>)
// from a single reference or a list of them, in order, each host once.
func (l *loader) hostList(expr hcl.Expression, attr string, groups bool) ([]string, hcl.Diagnostics) {
	elems := []hcl.Expression{expr}
	if list, d := hcl.ExprList(expr); !d.HasErrors() {
		elems = list
	}
	var out []string
	var diags hcl.Diagnostics
	add := func(h string) {
		for _, o := range out {
			if o == h {
				return
			}
		}
		out = append(out, h)
	}
	example := "host.a or [host.a, host.b]"
	if groups {
		example = "host.a, group.web or [host.a, group.web]"
	}
	for _, e := range elems {
		tr, d := hcl.AbsTraversalForExpr(e)
		names := traversalNames(tr)
		switch {
		case d.HasErrors() || len(names) != 2 || (names[0] != "host" && (!groups || names[0] != "group")):
			diags = append(diags, errorDiag("Invalid reference", fmt.Sprintf("%s must be %s.", attr, example), e.Range()))
		case names[0] == "host":
			if _, ok := l.plan.Hosts[names[1]]; !ok {
				diags = append(diags, l.undeclared("host", names[1], l.plan.HostOrder, e.Range()))
				continue
			}
			add(names[1])
		default:
			hosts, ok := l.groups[names[1]]
			if !ok {
				diags = append(diags, l.undeclared("group", names[1], sortedKeys(l.groups), e.Range()))
				continue
			}
			for _, h := range hosts {
				add(h)
			}
		}
	}
	return out, diags
}
