// Package healthcheck is the `health_check` step: poll an HTTP endpoint until
// it answers with the expected status (and, optionally, a body that contains a
// string or matches a regular expression), or the step's timeout runs out.
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
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "health_check", Kind: steps.KindRedo, Idempotent: true, Decode: decode})
}

// DefaultTimeout bounds a health check whose step sets no timeout.
const DefaultTimeout = 2 * time.Minute

// Config is the body of a health_check step.
type Config struct {
	URL          string            `hcl:"url"`
	Method       string            `hcl:"method,optional"`
	Headers      map[string]string `hcl:"headers,optional"`
	ExpectStatus int               `hcl:"expect_status,optional"`
	BodyContains string            `hcl:"body_contains,optional"`
	BodyMatches  string            `hcl:"body_matches,optional"`
	Interval     string            `hcl:"interval,optional"`
	CAFile       string            `hcl:"ca_file,optional"`
}

// Step polls an endpoint.
type Step struct {
	Config
	interval time.Duration
	re       *regexp.Regexp
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
	if s.BodyMatches != "" {
		re, err := regexp.Compile(s.BodyMatches)
		if err != nil {
			bad(fmt.Sprintf("body_matches is not a valid regular expression: %s.", err))
		}
		s.re = re
	}
	if s.URL != "" && !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		bad(fmt.Sprintf("url %q must start with http:// or https://.", s.URL))
	}
	return s, diags
}

func (s *Step) describe() string {
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
	err := steps.Retry(ctx, deadline, s.interval, s.probe)
	if err != nil {
		return fmt.Errorf("%s: not healthy: %w", s.URL, err)
	}
	rt.SetSummary(fmt.Sprintf("healthy after %s", time.Since(start).Round(time.Millisecond)))
	return nil
}

func (s *Step) probe(ctx context.Context) error {
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
