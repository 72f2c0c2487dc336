package drain

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/steps"
)

// Plan reads the in-flight count (read-only) and lists the calls.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	actions := []steps.Action{{Summary: fmt.Sprintf("pause: %s %s", s.Method, s.PauseURL)}}
	if s.InflightURL != "" {
		n, err := s.inflight(ctx)
		if err != nil {
			return nil, fmt.Errorf("read in-flight count: %w", err)
		}
		actions = append(actions, steps.Action{Summary: fmt.Sprintf("wait until %s reports 0 in flight (now %d)", s.InflightURL, n)})
	}
	actions = append(actions, steps.Action{Summary: "on rollback or resume: " + s.DescribeRelease()})
	return actions, nil
}

// Apply pauses the service and waits for in-flight work to finish.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if err := s.call(ctx, s.PauseURL); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if s.InflightURL == "" {
		rt.SetSummary("paused")
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	return waitZero(ctx, rt, s.interval, s.inflight)
}

// Undo releases the drain (phase 3 of a rollback).
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return s.Release(ctx, rt) }

// Release calls the resume endpoint.
func (s *Step) Release(ctx context.Context, rt steps.Runtime) error {
	if err := s.call(ctx, s.ResumeURL); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

// DescribeRelease says what Release calls.
func (s *Step) DescribeRelease() string { return fmt.Sprintf("%s %s", s.Method, s.ResumeURL) }

func (s *Step) call(ctx context.Context, url string) error {
	c, err := httpx.Client(s.CAFile)
	if err != nil {
		return err
	}
	resp, err := httpx.Do(ctx, c, s.Method, url, s.Headers, "")
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return fmt.Errorf("%s %s: status %d: %s", s.Method, url, resp.Status, httpx.Snippet(resp.Body))
	}
	return nil
}

// inflight reads the count: a bare JSON number, or a number field of a JSON
// object (dotted path for nested objects).
func (s *Step) inflight(ctx context.Context) (int64, error) {
	c, err := httpx.Client(s.CAFile)
	if err != nil {
		return 0, err
	}
	resp, err := httpx.Do(ctx, c, http.MethodGet, s.InflightURL, s.Headers, "")
	if err != nil {
		return 0, err
	}
	if resp.Status != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d: %s", s.InflightURL, resp.Status, httpx.Snippet(resp.Body))
	}
	return countField(resp.Body, s.InflightField)
}

func countField(body []byte, field string) (int64, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("in-flight response is not JSON: %s", httpx.Snippet(body))
	}
	for _, part := range strings.Split(field, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			break
		}
		if v, ok = obj[part]; !ok {
			return 0, fmt.Errorf("in-flight response has no field %q: %s", field, httpx.Snippet(body))
		}
	}
	n, ok := v.(float64)
	if !ok || n < 0 || n != float64(int64(n)) {
		return 0, fmt.Errorf("in-flight field %q is not a count: %s", field, httpx.Snippet(body))
	}
	return int64(n), nil
}
