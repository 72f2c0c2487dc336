package awsemu

import (
	"fmt"
	"net/http"
)

// apiError is an error answered to the client in AWS's JSON error shape.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// errf returns a client error (HTTP 400) with the given AWS error code.
func errf(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// internalErr wraps an unexpected failure as a 500 InternalFailure.
func internalErr(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: "InternalFailure", message: err.Error()}
}

// faultStatus is the HTTP status AWS answers with for an error code; it
// lets injected faults look like the real thing (5xx ones are retried by
// the SDK).
func faultStatus(code string) int {
	switch code {
	case "InternalFailure", "KMSInternalException", "InternalServiceError",
		"KeyUnavailableException", "InternalServerError":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "ServiceUnavailableException", "DependencyTimeoutException":
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}

// Error codes used by both services and the protocol layer.
const (
	codeValidation    = "ValidationException"
	codeSerialization = "SerializationException"
	codeUnknownOp     = "UnknownOperationException"
)
