package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Class is what a failed call to a server means for the operator: the
// server could not be reached, it refused the credentials, it does not
// offer the operation, or something else.
type Class int

// The classes Classify tells apart.
const (
	// Other is any error that is none of the classes below.
	Other Class = iota
	// Unreachable: no answer (DNS, connection refused or reset, timeout).
	Unreachable
	// Unauthorized: the server answered 401 or 403, or an AWS error code
	// saying the credentials were refused.
	Unauthorized
	// Unsupported: the server answered 501 (not implemented).
	Unsupported
)

// StatusCoder is an error carrying the HTTP status of the answer that
// caused it (the AWS SDK's response errors; WithAnswer for other clients).
type StatusCoder interface{ HTTPStatusCode() int }

// errorCoder is an error carrying an API error code (smithy.APIError).
type errorCoder interface{ ErrorCode() string }

// refusedCodes are API error codes (AWS, S3) meaning the credentials
// were refused, whatever HTTP status carried them.
var refusedCodes = map[string]bool{
	"AccessDeniedException": true, "AccessDenied": true, "UnrecognizedClientException": true,
	"InvalidSignatureException": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"InvalidClientTokenId": true, "ExpiredTokenException": true, "ExpiredToken": true,
}

// Classify tells what err means for the operator; nil is Other.
func Classify(err error) Class {
	c, _ := classify(err)
	return c
}

// classify returns err's class and the HTTP status behind it (0 if none).
func classify(err error) (Class, int) {
	if err == nil {
		return Other, 0
	}
	var ee *EndpointError
	if errors.As(err, &ee) {
		return ee.Class, ee.Status
	}
	var sc StatusCoder
	status := 0
	if errors.As(err, &sc) {
		status = sc.HTTPStatusCode()
	}
	var ec errorCoder
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Unauthorized, status
	case status == http.StatusNotImplemented:
		return Unsupported, status
	case errors.As(err, &ec) && refusedCodes[ec.ErrorCode()]:
		return Unauthorized, status
	case errors.As(err, &ec) && (ec.ErrorCode() == "NotImplemented" || ec.ErrorCode() == "XMinioAdminNotImplemented"):
		return Unsupported, status
	case status != 0:
		return Other, status
	}
	return unreachable(err), 0
}

// unreachable is Unreachable for errors of dialing, resolving, a
// connection cut, or a timeout; Other for the rest.
func unreachable(err error) Class {
	var op *net.OpError
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &op), errors.As(err, &dns),
		errors.As(err, &ne) && ne.Timeout(),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return Unreachable
	}
	return Other
}

// WithAnswer attaches an HTTP status and an API error code (either may be
// 0 or "") to err, for clients whose errors carry them in fields (Vault's,
// madmin's): the result is a StatusCoder and has an ErrorCode, and unwraps
// to err. With neither, err is returned unchanged.
func WithAnswer(status int, code string, err error) error {
	if (status == 0 && code == "") || err == nil {
		return err
	}
	return &answerError{status: status, code: code, err: err}
}

type answerError struct {
	status int
	code   string
	err    error
}

func (e *answerError) Error() string       { return e.err.Error() }
func (e *answerError) Unwrap() error       { return e.err }
func (e *answerError) HTTPStatusCode() int { return e.status }
func (e *answerError) ErrorCode() string   { return e.code }

// EndpointError is a failed call to a server that the operator can act on:
// which server, what kind of failure, and (Hint) what to check.
type EndpointError struct {
	// Endpoint names the server: its kind and address ("vault https://...").
	Endpoint string
	// Setting is the plan's block that configures it ("kms.vault").
	Setting string
	// Op is the operation that failed, named for a person ("list keys").
	Op string
	// Class is Unreachable, Unauthorized or Unsupported.
	Class Class
	// Status is the HTTP status of the answer; 0 if there was none.
	Status int
	// Waited is how long the call waited before it failed.
	Waited time.Duration
	// Err is the client's error.
	Err error
}

// Endpoint wraps err in an *EndpointError when Classify finds it
// Unreachable, Unauthorized or Unsupported; otherwise (or if err already is
// one) it returns err unchanged. start is when the call began (zero:
// unknown).
func Endpoint(endpoint, setting, op string, start time.Time, err error) error {
	var ee *EndpointError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	c, status := classify(err)
	if c == Other {
		return err
	}
	ee = &EndpointError{Endpoint: endpoint, Setting: setting, Op: op, Class: c, Status: status, Err: err}
	if !start.IsZero() {
		ee.Waited = time.Since(start)
	}
	return ee
}

// Error reads "<endpoint>: <what happened>: <client's error>".
func (e *EndpointError) Error() string {
	var what string
	switch e.Class {
	case Unreachable:
		what = "unreachable"
	case Unauthorized:
		what = "credentials refused"
	case Unsupported:
		what = "operation not supported"
		if e.Op != "" {
			what = e.Op + " not supported"
		}
	}
	if e.Status != 0 {
		what += fmt.Sprintf(" (%d)", e.Status)
	}
	return fmt.Sprintf("%s: %s: %v", e.Endpoint, what, e.Err)
}

// Unwrap returns the client's error.
func (e *EndpointError) Unwrap() error { return e.Err }

// Hint says what the operator can check, by class.
func (e *EndpointError) Hint() string {
	switch e.Class {
	case Unreachable:
		h := fmt.Sprintf("check the address (%s) and that the server runs and is reachable from here", e.Endpoint)
		if e.Waited > 0 {
			h += fmt.Sprintf("; cutover waited %s", e.Waited.Round(100*time.Millisecond))
		}
		return h
	case Unauthorized:
		return fmt.Sprintf("check the credentials (token, API key, access key) the plan gives for %s, and that they are allowed this operation", e.Setting)
	case Unsupported:
		op := e.Op
		if op == "" {
			op = "this operation"
		}
		return fmt.Sprintf("%s does not offer %s; check its version or configuration", e.Endpoint, op)
	}
	return ""
}
