// Package drain is the `drain` step: stop new work before keys change. It
// has two modes, exactly one of which a step sets:
//
//   - HTTP: `pause_url` and `resume_url` (and optionally `inflight_url`).
//     Apply calls the pause endpoint, then polls an in-flight count until it
//     is zero or the step times out; Release calls the resume endpoint.
//   - MinIO: `minio = minio.<name>`. Apply freezes S3 traffic (madmin
//     ServiceFreezeV2) and confirms new requests are held; Release unfreezes
//     (ServiceUnfreezeV2) until requests are served again. A frozen MinIO
//     holds new S3 requests (it does not refuse them) and lets requests
//     already being served finish. A restart of MinIO ends the freeze.
//
// Release runs from a `resume` step, or (through Undo) in phase 3 of a
// rollback. A drain starts the maintenance window.
package drain

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers/minio"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "drain", Kind: steps.KindDrain, Idempotent: true, Downtime: true, Decode: decode})
}

// DefaultTimeout bounds the wait for in-flight work (HTTP) or for the
// freeze call (MinIO) when the step sets no timeout.
const DefaultTimeout = 5 * time.Minute

// Config is the body of a drain step: the HTTP attributes, or MinIO.
type Config struct {
	PauseURL      string            `hcl:"pause_url,optional"`      // HTTP: called by Apply
	ResumeURL     string            `hcl:"resume_url,optional"`     // HTTP: called by Release
	InflightURL   string            `hcl:"inflight_url,optional"`   // HTTP: polled until it reports 0
	InflightField string            `hcl:"inflight_field,optional"` // HTTP: dotted JSON field of the count (default "inflight")
	Method        string            `hcl:"method,optional"`         // HTTP: of the pause and resume calls (default POST)
	Headers       map[string]string `hcl:"headers,optional"`        // HTTP: sent with every call
	PollInterval  string            `hcl:"poll_interval,optional"`  // HTTP: between in-flight reads (default 500ms)
	CAFile        string            `hcl:"ca_file,optional"`        // HTTP: PEM CAs for https
	// MinIO is a reference to a minio block: the MinIO mode.
	MinIO hcl.Expression `hcl:"minio,optional"`
}

// httpAttrs are the attributes of the HTTP mode, in the order diagnostics
// name them.
var httpAttrs = []string{"pause_url", "resume_url", "inflight_url", "inflight_field", "method", "headers", "poll_interval", "ca_file"}

// Step drains a service over HTTP.
type Step struct {
	Config
	interval time.Duration
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	var c Config
	diags := dc.DecodeBody(body, &c)
	attrs := hcldecode.Attributes(body, &c)
	if c.MinIO != nil {
		return decodeFreeze(c.MinIO, attrs, dc, diags)
	}
	if attrs["pause_url"] == nil && attrs["resume_url"] == nil {
		r := body.MissingItemRange()
		return &Step{Config: c}, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing drain target",
			Detail:  "A drain step needs either minio = minio.<name> (freeze a MinIO deployment) or pause_url and resume_url (an HTTP service).",
			Subject: &r})
	}
	return decodeHTTP(c, attrs, body, dc, diags)
}

// decodeHTTP finishes an HTTP drain: defaults, both URLs, poll_interval.
func decodeHTTP(c Config, attrs hcl.Attributes, body hcl.Body, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	s := &Step{Config: c, interval: 500 * time.Millisecond}
	if s.Method == "" {
		s.Method = http.MethodPost
	}
	if s.InflightField == "" {
		s.InflightField = "inflight"
	}
	s.CAFile = dc.Path(s.CAFile)
	for _, name := range []string{"pause_url", "resume_url"} {
		if attrs[name] == nil {
			r := body.MissingItemRange()
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
				Detail: fmt.Sprintf("An HTTP drain needs both pause_url and resume_url; %s is missing.", name), Subject: &r})
		}
	}
	if s.PollInterval != "" {
		d, err := time.ParseDuration(s.PollInterval)
		if err != nil || d <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid poll_interval",
				Detail: fmt.Sprintf("poll_interval %q is not a positive duration such as \"500ms\".", s.PollInterval), Subject: body.MissingItemRange().Ptr()})
		}
		s.interval = d
	}
	return s, diags
}

// decodeFreeze builds a MinIO drain; HTTP attributes beside minio are errors.
func decodeFreeze(expr hcl.Expression, attrs hcl.Attributes, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	for _, name := range httpAttrs {
		if a := attrs[name]; a != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting drain modes",
				Detail:  fmt.Sprintf("A drain step sets either minio (freeze a MinIO deployment) or the HTTP attributes, not both; remove %s or minio.", name),
				Subject: a.NameRange.Ptr(), Context: a.Range.Ptr()})
		}
	}
	cfg, d := minio.Resolve(dc, expr, "minio")
	return &FreezeStep{MinIO: cfg}, append(diags, d...)
}
