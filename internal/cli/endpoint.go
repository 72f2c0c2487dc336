package cli

import (
	"errors"
	"slices"
	"strings"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/plan"
)

// withEndpointHints puts the hint of each *httpx.EndpointError in errs
// (unreachable, credentials refused, operation not supported; each once)
// before hint, one "cutover: hint:" line each.
func withEndpointHints(p *plan.Plan, hint string, errs ...error) string {
	var lines []string
	for _, err := range errs {
		var ee *httpx.EndpointError
		if errors.As(err, &ee) {
			if h := p.Secrets.Redact(ee.Hint()); !slices.Contains(lines, h) {
				lines = append(lines, h)
			}
		}
	}
	if hint != "" {
		lines = append(lines, hint)
	}
	return strings.Join(lines, "\ncutover: hint: ")
}
