// Package resume is the `resume` step: release a drain before the end of the
// plan, so traffic comes back on the new configuration. It is usually the
// point of no return: from then on, data is written under the new KMS.
package resume

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "resume", Doc: "Releases a drain before the end of the plan, so traffic comes back on the new configuration; usually the point of no return.", Config: &Config{}, Kind: steps.KindNone, Idempotent: true, Decode: decode})
}

// Config is the body of a resume step.
type Config struct {
	Drain hcl.Expression `hcl:"drain" type:"reference to step.drain.<name>" doc:"The drain step to release; it must come earlier in the plan."`
	// DataAtRiskURL, if set, answers a JSON array naming the data written
	// since traffic resumed (strings, or objects with an "id"): what a
	// rollback after this point would make unreadable.
	DataAtRiskURL string `hcl:"data_at_risk_url,optional" doc:"A URL answering a JSON array that names the data written since traffic resumed (strings, or objects with an \"id\"); a rollback past this step lists it as data at risk."`
	CAFile        string `hcl:"ca_file,optional" doc:"PEM file of CAs to trust for an https data_at_risk_url; relative to the plan's directory."`
}

// Step releases a drain.
type Step struct {
	drainID  string
	releaser steps.Releaser
	riskURL  string
	caFile   string
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	if diags.HasErrors() {
		return &Step{}, diags
	}
	id, impl, d := steps.Ref(dc, c.Drain, "drain")
	diags = append(diags, d...)
	s := &Step{drainID: id, riskURL: c.DataAtRiskURL, caFile: dc.Path(c.CAFile)}
	if d.HasErrors() {
		return s, diags
	}
	r, ok := impl.(steps.Releaser)
	if !strings.HasPrefix(id, "drain.") || (!ok && impl != nil) {
		return s, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Not a drain step",
			Detail: fmt.Sprintf("drain must refer to a drain step, such as step.drain.traffic; %s is not one.", id), Subject: c.Drain.Range().Ptr()})
	}
	s.releaser = r
	return s, diags
}

// Plan says what is released.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.releaser == nil {
		return nil, fmt.Errorf("drain step %s has errors", s.drainID)
	}
	return []steps.Action{{Summary: fmt.Sprintf("release %s: %s", s.drainID, s.releaser.DescribeRelease())}}, nil
}

// Apply releases the drain.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if s.releaser == nil {
		return fmt.Errorf("drain step %s has errors", s.drainID)
	}
	if err := s.releaser.Release(ctx, rt); err != nil {
		return err
	}
	rt.SetSummary("released " + s.drainID)
	return nil
}

// Undo does nothing: traffic that resumed is not paused again by a rollback
// (the rollback releases drains itself, last).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }

// maxAtRisk is how many items DataAtRisk names.
const maxAtRisk = 20

// DataAtRisk implements steps.LossReporter from data_at_risk_url.
func (s *Step) DataAtRisk(ctx context.Context) ([]string, error) {
	if s.riskURL == "" {
		return nil, nil
	}
	c, err := httpx.Client(s.caFile)
	if err != nil {
		return nil, err
	}
	resp, err := httpx.Do(ctx, c, http.MethodGet, s.riskURL, nil, "")
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", s.riskURL, resp.Status)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(resp.Body, &items); err != nil {
		return nil, fmt.Errorf("GET %s: not a JSON array: %s", s.riskURL, httpx.Snippet(resp.Body))
	}
	return names(items), nil
}

// names renders items: a string as is, an object by its "id" (and
// "provider"), anything else as compact JSON; then "and N more".
func names(items []json.RawMessage) []string {
	var out []string
	for i, raw := range items {
		if i == maxAtRisk {
			return append(out, fmt.Sprintf("and %d more", len(items)-maxAtRisk))
		}
		var str string
		var obj struct{ ID, Provider string }
		switch {
		case json.Unmarshal(raw, &str) == nil:
			out = append(out, str)
		case json.Unmarshal(raw, &obj) == nil && obj.ID != "":
			out = append(out, strings.TrimSpace(obj.ID+" "+obj.Provider))
		default:
			out = append(out, string(raw))
		}
	}
	return out
}

// DrainID is the drain step this step releases.
func (s *Step) DrainID() string { return s.drainID }
