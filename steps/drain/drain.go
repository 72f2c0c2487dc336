// Package drain is the `drain` step: stop new work before keys change. It
// has three modes, exactly one of which a step sets:
//
//   - HTTP: `pause_url` and `resume_url` (and optionally `inflight_url`).
//     Apply calls the pause endpoint, then polls an in-flight count until it
//     is zero or the step times out; Release calls the resume endpoint.
//   - MinIO: `minio = minio.<name>`. Apply freezes S3 traffic (madmin
//     ServiceFreezeV2) and confirms new requests are held; Release unfreezes
//     (ServiceUnfreezeV2) until requests are served again. A frozen MinIO
//     holds new S3 requests (it does not refuse them) and lets requests
//     already being served finish. A restart of MinIO ends the freeze.
//   - Command: `pause_command` and `resume_command` (and optionally
//     `inflight_command`), for services drained by a CLI (systemctl,
//     kubectl, an app's own control tool). Apply runs the pause command,
//     then runs the in-flight command until it prints 0 or the step times
//     out; Release runs the resume command.
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
	steps.Register(steps.Type{Name: "drain", Doc: "Stops new work before keys change, in one of three modes: HTTP (pause_url, resume_url), MinIO (minio: freeze S3 traffic) or command (pause_command, resume_command). Starts the maintenance window; a resume step or the rollback releases it.", Config: &Config{}, Kind: steps.KindDrain, Idempotent: true, Downtime: true, Decode: decode})
}

// DefaultTimeout bounds the wait for in-flight work (HTTP), the freeze call
// (MinIO), or the pause, the wait and the resume (command) when the step sets
// no timeout.
const DefaultTimeout = 5 * time.Minute

// Config is the body of a drain step: the HTTP attributes, MinIO, or the
// command attributes.
type Config struct {
	PauseURL      string            `hcl:"pause_url,optional" doc:"HTTP mode: called to stop new work."`
	ResumeURL     string            `hcl:"resume_url,optional" doc:"HTTP mode: called to release the drain."`
	InflightURL   string            `hcl:"inflight_url,optional" doc:"HTTP mode: polled until the in-flight count it answers is 0."`
	InflightField string            `hcl:"inflight_field,optional" default:"\"inflight\"" doc:"HTTP mode: the dotted JSON field of inflight_url's answer holding the count."`
	Method        string            `hcl:"method,optional" default:"\"POST\"" doc:"HTTP mode: the method of the pause and resume calls."`
	Headers       map[string]string `hcl:"headers,optional" doc:"HTTP mode: headers sent with every call."`
	PollInterval  string            `hcl:"poll_interval,optional" type:"duration" default:"\"500ms\"" doc:"HTTP and command modes: the time between in-flight reads."`
	CAFile        string            `hcl:"ca_file,optional" doc:"HTTP mode: PEM file of CAs to trust for https URLs; relative to the plan's directory."`
	// MinIO is a reference to a minio block: the MinIO mode.
	MinIO hcl.Expression `hcl:"minio,optional" type:"reference to minio.<name>" doc:"MinIO mode: the deployment whose S3 traffic is frozen (held, not refused) until the drain is released. A restart of MinIO ends the freeze; cutover re-applies it."`
	// The command mode: argv lists, run without a shell.
	PauseCommand    []string `hcl:"pause_command,optional" doc:"Command mode: the command (argv, no shell) that stops new work."`
	ResumeCommand   []string `hcl:"resume_command,optional" doc:"Command mode: the command that releases the drain."`
	InflightCommand []string `hcl:"inflight_command,optional" doc:"Command mode: a command that prints the in-flight count; run until it prints 0."`
	// Env is set for the three commands over the environment they inherit
	// (which holds none of the plan's inputs: see command.ChildEnv).
	Env map[string]string `hcl:"env,optional" doc:"Command mode: variables set for the three commands over the environment they inherit (which holds none of the plan's inputs)."`
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
	switch {
	case c.MinIO != nil:
		return decodeFreeze(c.MinIO, attrs, dc, diags)
	case commandMode(attrs):
		return decodeCommand(c, attrs, body, dc, diags)
	case attrs["pause_url"] == nil && attrs["resume_url"] == nil:
		r := body.MissingItemRange()
		return &Step{Config: c}, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing drain target",
			Detail: "A drain step needs either minio = minio.<name> (freeze a MinIO deployment), or pause_url and resume_url " +
				"(an HTTP service), or pause_command and resume_command (a service drained by a command).",
			Subject: &r})
	}
	return decodeHTTP(c, attrs, body, dc, diags)
}

// commandMode reports whether a drain without minio is in the command mode:
// it sets pause_command or resume_command, or inflight_command without the
// HTTP mode's URLs (the HTTP mode reports an inflight_command beside them).
func commandMode(attrs hcl.Attributes) bool {
	return anySet(attrs, []string{"pause_command", "resume_command"}) ||
		(attrs["inflight_command"] != nil && !anySet(attrs, []string{"pause_url", "resume_url"}))
}

// anySet reports whether any of names is set in attrs.
func anySet(attrs hcl.Attributes, names []string) bool {
	for _, name := range names {
		if attrs[name] != nil {
			return true
		}
	}
	return false
}

// decodeHTTP finishes an HTTP drain: defaults, both URLs, poll_interval, no
// command attributes.
func decodeHTTP(c Config, attrs hcl.Attributes, body hcl.Body, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	diags = append(diags, conflicts(attrs, commandAttrs, commandHTTPConflict)...)
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
		d, diag := pollInterval(s.PollInterval, body)
		if diag != nil {
			diags = append(diags, diag)
		}
		s.interval = d
	}
	return s, diags
}

// pollInterval parses a set poll_interval; the diagnostic is non-nil when it
// is not a positive duration.
func pollInterval(value string, body hcl.Body) (time.Duration, *hcl.Diagnostic) {
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid poll_interval",
			Detail: fmt.Sprintf("poll_interval %q is not a positive duration such as \"500ms\".", value), Subject: body.MissingItemRange().Ptr()}
	}
	return d, nil
}

// decodeFreeze builds a MinIO drain; HTTP or command attributes beside minio
// are errors.
func decodeFreeze(expr hcl.Expression, attrs hcl.Attributes, dc *hcldecode.Context, diags hcl.Diagnostics) (steps.Step, hcl.Diagnostics) {
	for _, mode := range []struct {
		what  string
		names []string
	}{{"HTTP", httpAttrs}, {"command", commandAttrs}} {
		diags = append(diags, conflicts(attrs, mode.names,
			"A drain step sets either minio (freeze a MinIO deployment) or the "+mode.what+" attributes, not both; remove %s or minio.")...)
	}
	cfg, d := minio.Resolve(dc, expr, "minio")
	return &FreezeStep{MinIO: cfg}, append(diags, d...)
}

// conflicts returns a "Conflicting drain modes" diagnostic for each of names
// set in attrs, pointing at the attribute; detail is a format with one %s,
// the attribute's name.
func conflicts(attrs hcl.Attributes, names []string, detail string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range names {
		if a := attrs[name]; a != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Conflicting drain modes",
				Detail: fmt.Sprintf(detail, name), Subject: a.NameRange.Ptr(), Context: a.Range.Ptr()})
		}
	}
	return diags
}
