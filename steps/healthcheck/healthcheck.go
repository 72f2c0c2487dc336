// Package healthcheck is the `health_check` step: poll until a service is
// healthy or the step's timeout runs out. It has two modes, exactly one of
// which a step sets:
//
//   - `url`: an HTTP endpoint must answer with the expected status (and,
//     optionally, a body that contains a string or matches a regular
//     expression).
//   - `minio = minio.<name>`: MinIO's /minio/health/ready must answer 200,
//     which MinIO does only when its KMS generates a data key (unlike
//     /minio/health/live); with `kms_key`, MinIO must also generate and
//     decrypt a fresh data key under that key name. Neither proves that
//     objects written before decrypt: validate_objects does.
//
// In a rollback it runs again, to prove the service is healthy on its old
// configuration.
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers/minio"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "health_check", Doc: "Polls an HTTP endpoint, or a MinIO deployment's readiness (which exercises its KMS), until it passes or the step's timeout (default 2m) ends. Runs again in a rollback.", Config: &Config{}, Kind: steps.KindRedo, Idempotent: true, Hosts: steps.HostsEach, Decode: decode})
}

// DefaultTimeout bounds a health check whose step sets no timeout.
const DefaultTimeout = 2 * time.Minute

// Config is the body of a health_check step: url and its options, or
// minio and kms_key.
type Config struct {
	URL          string            `hcl:"url,optional" doc:"The endpoint polled (url mode); set this or minio."`
	Method       string            `hcl:"method,optional" default:"\"GET\"" doc:"The HTTP method (url mode)."`
	Headers      map[string]string `hcl:"headers,optional" doc:"Headers sent with each request (url mode)."`
	ExpectStatus int               `hcl:"expect_status,optional" default:"200" doc:"The status that passes (url mode)."`
	BodyContains string            `hcl:"body_contains,optional" doc:"A string the response body must contain (url mode)."`
	BodyMatches  string            `hcl:"body_matches,optional" doc:"A regular expression (Go syntax) the response body must match (url mode)."`
	Interval     string            `hcl:"interval,optional" type:"duration" default:"\"1s\"" doc:"The time between attempts (both modes)."`
	CAFile       string            `hcl:"ca_file,optional" doc:"PEM file of CAs to trust for an https url; relative to the plan's directory."`
	// MinIO is a reference to a minio block: the MinIO readiness mode.
	MinIO hcl.Expression `hcl:"minio,optional" type:"reference to minio.<name>" doc:"A MinIO deployment whose readiness is polled (minio mode); set this or url."`
	// KMSKey, in the MinIO mode, is a KMS key name that must also pass
	// MinIO's key status check.
	KMSKey string `hcl:"kms_key,optional" doc:"A KMS key name that must also pass MinIO's key status check (minio mode)."`
}

// Step polls an endpoint, or a MinIO deployment's readiness.
type Step struct {
	Config
	interval time.Duration
	// probed, if set, sees every probe's result (tests wait on it instead
	// of sleeping).
	probed func(error)
	re     *regexp.Regexp
	// minio is the deployment of the MinIO mode; nil in the url mode.
	minio *minio.Config
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{}
	diags := dc.DecodeBody(body, &s.Config)
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if s.ExpectStatus == 0 {
		s.ExpectStatus = http.StatusOK
	}
	s.CAFile = dc.Path(s.CAFile)
	s.interval = time.Second
	bad := func(detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid health_check", Detail: detail, Subject: body.MissingItemRange().Ptr()})
	}
	if s.Interval != "" {
		d, err := time.ParseDuration(s.Interval)
		if err != nil || d <= 0 {
			bad(fmt.Sprintf("interval %q is not a positive duration such as \"1s\".", s.Interval))
		}
		s.interval = d
	}
	attrs := hcldecode.Attributes(body, &s.Config)
	if s.MinIO != nil {
		return s, append(diags, s.decodeMinIO(attrs, dc)...)
	}
	return s, append(diags, s.decodeURL(attrs, body)...)
}

// urlAttrs are the attributes of the url mode.
var urlAttrs = []string{"url", "method", "headers", "expect_status", "body_contains", "body_matches", "ca_file"}

// decodeURL checks the url mode: url is set and valid, body_matches compiles.
func (s *Step) decodeURL(attrs hcl.Attributes, body hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a := attrs["kms_key"]; a != nil {
		diags = append(diags, attrDiag("Misplaced kms_key", "kms_key is checked through a MinIO deployment: set minio = minio.<name> instead of url, or remove kms_key.", a))
	}
	if attrs["url"] == nil {
		r := body.MissingItemRange()
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing health check target",
			Detail:  "A health_check step needs either url (an HTTP endpoint) or minio = minio.<name> (MinIO readiness, which exercises its KMS).",
			Subject: &r})
	}
	if s.BodyMatches != "" {
		re, err := regexp.Compile(s.BodyMatches)
		if err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid health_check", fmt.Sprintf("body_matches is not a valid regular expression: %s.", err), attrs["body_matches"]))
		}
		s.re = re
	}
	if s.URL != "" && !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		diags = append(diags, hcldecode.AttrError("Invalid health_check", fmt.Sprintf("url %q must start with http:// or https://.", s.URL), attrs["url"]))
	}
	return diags
}

// decodeMinIO resolves the deployment; url-mode attributes are errors.
func (s *Step) decodeMinIO(attrs hcl.Attributes, dc *hcldecode.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range urlAttrs {
		if a := attrs[name]; a != nil {
			diags = append(diags, attrDiag("Conflicting health check modes",
				fmt.Sprintf("A health_check step sets either minio (MinIO readiness) or url and its options, not both; remove %s or minio.", name), a))
		}
	}
	cfg, d := minio.Resolve(dc, s.MinIO, "minio")
	s.minio = cfg
	return append(diags, d...)
}

// attrDiag is an error diagnostic on an attribute's name: it should not be there.
func attrDiag(summary, detail string, a *hcl.Attribute) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail,
		Subject: a.NameRange.Ptr(), Context: a.Range.Ptr()}
}

// describe says what the check waits for.
func (s *Step) describe() string {
	if s.MinIO != nil {
		return s.describeMinIO()
	}
	d := fmt.Sprintf("%s %s until status %d", s.Method, s.URL, s.ExpectStatus)
	if s.BodyContains != "" {
		d += fmt.Sprintf(" and body containing %q", s.BodyContains)
	}
	if s.BodyMatches != "" {
		d += fmt.Sprintf(" and body matching /%s/", s.BodyMatches)
	}
	return d
}

// Plan probes once and reports the current answer; an endpoint that is down
// now is a warning, not an error (it may be down until the cutover).
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	a := steps.Action{Summary: "check " + s.describe()}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.probe(pctx); err != nil {
		a.Details = append(a.Details, "now: "+err.Error())
	} else {
		a.Details = append(a.Details, "now: passing")
	}
	return []steps.Action{a}, nil
}

// Apply polls until the check passes or the deadline passes.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
		deadline, _ = ctx.Deadline()
	}
	start := time.Now()
	// Progress counts probes against the most the deadline allows, so the
	// live line's time left is the time until the check gives up.
	total, n := int64(time.Until(deadline)/max(s.interval, time.Millisecond))+1, int64(0)
	err := steps.Retry(ctx, deadline, s.interval, func(ctx context.Context) error {
		n++
		rt.Progress(steps.Progress{Done: n, Total: total, Unit: "probes"})
		return s.probe(ctx)
	})
	if err != nil {
		return fmt.Errorf("%s: not healthy: %w", s.target(), err)
	}
	rt.SetSummary(fmt.Sprintf("healthy after %s", time.Since(start).Round(time.Millisecond)))
	return nil
}

// probe checks once, in the step's mode.
func (s *Step) probe(ctx context.Context) error {
	var err error
	if s.MinIO != nil {
		err = s.probeMinIO(ctx)
	} else {
		err = s.probeURL(ctx)
	}
	if s.probed != nil {
		s.probed(err)
	}
	return err
}

// probeURL requests the url once and checks the answer.
func (s *Step) probeURL(ctx context.Context) error {
	c, err := httpx.Client(s.CAFile)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := httpx.Do(rctx, c, s.Method, s.URL, s.Headers, "")
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			return fmt.Errorf("unreachable: %v", ue.Unwrap())
		}
		return fmt.Errorf("unreachable: %v", err)
	}
	if resp.Status != s.ExpectStatus {
		return fmt.Errorf("status %d, want %d: %s", resp.Status, s.ExpectStatus, httpx.Snippet(resp.Body))
	}
	if s.BodyContains != "" && !strings.Contains(string(resp.Body), s.BodyContains) {
		return fmt.Errorf("body does not contain %q: %s", s.BodyContains, httpx.Snippet(resp.Body))
	}
	if s.re != nil && !s.re.Match(resp.Body) {
		return fmt.Errorf("body does not match /%s/: %s", s.BodyMatches, httpx.Snippet(resp.Body))
	}
	return nil
}

// Undo does nothing: a check is redone in phase 2, never undone.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
