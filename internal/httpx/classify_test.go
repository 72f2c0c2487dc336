package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/cutover/cutover/internal/httpx"
)

// awsError is what the AWS SDK returns for an answer with status and code.
func awsError(status int, code string) error {
	return &smithy.OperationError{ServiceID: "KMS", OperationName: "ListAliases", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
		},
	}}
}

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}
	vault403 := &vaultapi.ResponseError{HTTPMethod: "GET", URL: "http://v/v1/auth/token/lookup-self", StatusCode: 403, Errors: []string{"permission denied"}}
	for _, c := range []struct {
		name string
		err  error
		want httpx.Class
	}{
		{"nil", nil, httpx.Other},
		{"plain", errors.New("boom"), httpx.Other},
		{"connection refused in url.Error", &url.Error{Op: "Get", URL: "http://x", Err: refused}, httpx.Unreachable},
		{"dns", &url.Error{Op: "Get", URL: "http://x", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, httpx.Unreachable},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), httpx.Unreachable},
		{"deadline", fmt.Errorf("kes GET /v1/status: %w", context.DeadlineExceeded), httpx.Unreachable},
		{"vault 403 via WithAnswer", fmt.Errorf("kms.v: %w", httpx.WithAnswer(vault403.StatusCode, "", vault403)), httpx.Unauthorized},
		{"vault 404", httpx.WithAnswer(404, "", errors.New("not found")), httpx.Other},
		{"401", httpx.WithAnswer(401, "", errors.New("x")), httpx.Unauthorized},
		{"501", httpx.WithAnswer(501, "", errors.New("x")), httpx.Unsupported},
		{"aws 400 UnrecognizedClientException", awsError(400, "UnrecognizedClientException"), httpx.Unauthorized},
		{"aws 400 InvalidSignatureException", awsError(400, "InvalidSignatureException"), httpx.Unauthorized},
		{"aws 400 AccessDeniedException", awsError(400, "AccessDeniedException"), httpx.Unauthorized},
		{"aws 400 NotFoundException", awsError(400, "NotFoundException"), httpx.Other},
		{"aws 501", awsError(501, "NotImplemented"), httpx.Unsupported},
		{"madmin code InvalidAccessKeyId", httpx.WithAnswer(0, "InvalidAccessKeyId", errors.New("x")), httpx.Unauthorized},
		{"madmin code NotImplemented", httpx.WithAnswer(0, "NotImplemented", errors.New("x")), httpx.Unsupported},
	} {
		if got := httpx.Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
}

// TestEndpointErrorMessagesAndHints: the three classes read differently,
// each with its own hint; an error of no class passes unchanged.
func TestEndpointErrorMessagesAndHints(t *testing.T) {
	start := time.Now().Add(-3 * time.Second)
	cases := []struct {
		err       error
		msg, hint string
	}{
		{&url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}},
			"vault http://127.0.0.1:1: unreachable: ", "check the address (vault http://127.0.0.1:1) and that the server runs and is reachable from here; cutover waited 3"},
		{httpx.WithAnswer(403, "", errors.New("permission denied")),
			"vault http://127.0.0.1:1: credentials refused (403): permission denied", "check the credentials (token, API key, access key) the plan gives for kms.v"},
		{httpx.WithAnswer(501, "", errors.New("not implemented")),
			"vault http://127.0.0.1:1: list keys not supported (501): not implemented", "vault http://127.0.0.1:1 does not offer list keys; check its version or configuration"},
	}
	for _, c := range cases {
		err := httpx.Endpoint("vault http://127.0.0.1:1", "kms.v", "list keys", start, c.err)
		var ee *httpx.EndpointError
		if !errors.As(err, &ee) {
			t.Fatalf("%v: not an EndpointError", c.err)
		}
		if !strings.HasPrefix(err.Error(), c.msg) || !strings.HasPrefix(ee.Hint(), c.hint) {
			t.Errorf("got %q / hint %q, want %q / %q", err, ee.Hint(), c.msg, c.hint)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%v does not unwrap to the client's error", err)
		}
		if again := httpx.Endpoint("other", "kms.o", "", start, fmt.Errorf("wrapped: %w", err)); !strings.Contains(again.Error(), "wrapped: vault ") {
			t.Errorf("an EndpointError was wrapped twice: %v", again)
		}
	}
	plain := errors.New("key not found")
	if got := httpx.Endpoint("vault x", "kms.v", "", start, plain); got != plain {
		t.Errorf("an error of no class changed: %v", got)
	}
}
