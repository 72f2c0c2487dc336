package kes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers"
)

// maxResponse caps how much of a response body is read.
const maxResponse = 4 << 20

// enclaveHeader names the enclave in requests, as the KES SDK does.
const enclaveHeader = "Kes-Enclave"

// Messages KES v0.24.0 answers with (kms-go/kes error.go).
const (
	msgKeyExists     = "key already exists"
	msgDecryptFailed = "decryption failed: ciphertext is not authentic"
)

// ErrNotAllowed means the server refused the request (403): the identity
// is neither the admin nor allowed by its policy to call that API.
var ErrNotAllowed = errors.New("kes: not allowed by the identity's policy")

// ErrProof means KES could not decrypt a ciphertext with the key (400
// "decryption failed: ciphertext is not authentic"), or a Prove round trip
// did not give back the plaintext.
var ErrProof = errors.New("kes: the key did not decrypt its ciphertext")

// APIError is a KES API call that failed with an HTTP status. errors.Is
// matches it against the providers error it stands for (see Unwrap).
type APIError struct {
	Method, Path string
	Status       int
	// Message is KES's {"message": ...} (or the start of the body).
	Message string
	// Err is the sentinel the status means, or nil.
	Err error
}

// Error is "kes METHOD PATH: STATUS: message".
func (e *APIError) Error() string {
	return fmt.Sprintf("kes %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Unwrap returns the sentinel: providers.ErrKeyNotFound, ErrKeyExists,
// ErrNotAllowed, ErrProof, or nil.
func (e *APIError) Unwrap() error { return e.Err }

// HTTPStatusCode is the answer's HTTP status (httpx.StatusCoder).
func (e *APIError) HTTPStatusCode() int { return e.Status }

// call sends a JSON request and decodes a 200 answer into out (if not nil).
// A non-200 answer is an *APIError; classify chooses its sentinel. An
// unreachable server, a refused API key or an API the server does not
// offer is an *httpx.EndpointError wrapping it.
func (s *Store) call(ctx context.Context, method, path string, in, out any) error {
	start := time.Now()
	err := s.exchange(ctx, method, path, in, out)
	return httpx.Endpoint("kes "+s.base.String(), s.name, "the API "+method+" "+path, start, err)
}

// exchange is call without the classification.
func (s *Store) exchange(ctx context.Context, method, path string, in, out any) error {
	resp, err := s.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode != http.StatusOK {
		// Some v0.24.0 handlers write more after their error message
		// than the Content-Length they declared: keep what was read.
		return newAPIError(method, path, resp.StatusCode, body)
	}
	if err != nil {
		return fmt.Errorf("kes %s %s: read response: %w", method, path, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("kes %s %s: malformed response: %w", method, path, err)
	}
	return nil
}

// send builds and sends one request.
func (s *Store) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url(path), body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.enclave != "" {
		req.Header.Set(enclaveHeader, s.enclave)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kes %s %s: %w", method, path, err)
	}
	return resp, nil
}

// url joins the endpoint and an API path whose last element is escaped.
func (s *Store) url(path string) string {
	return strings.TrimSuffix(s.base.String(), "/") + path
}

// apiPath is an API route followed by one escaped argument.
func apiPath(route, arg string) string { return route + url.PathEscape(arg) }

// newAPIError reads KES's error body and classifies the status.
func newAPIError(method, path string, status int, body []byte) *APIError {
	msg := errorMessage(body)
	return &APIError{Method: method, Path: path, Status: status, Message: msg, Err: classify(path, status, msg)}
}

// errorMessage extracts {"message": ...} (v0.24.0) or {"error": ...}
// (older servers), else the start of the body.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Message != "" || e.Error != "") {
		return e.Message + e.Error
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// classify maps a status and message to a sentinel. A 404 means a
// missing key only on a key route (elsewhere: not a KES endpoint).
func classify(path string, status int, msg string) error {
	switch {
	case status == http.StatusNotFound && strings.HasPrefix(path, "/v1/key/"):
		return providers.ErrKeyNotFound
	case status == http.StatusBadRequest && msg == msgKeyExists:
		return providers.ErrKeyExists
	case status == http.StatusBadRequest && msg == msgDecryptFailed:
		return ErrProof
	case status == http.StatusForbidden:
		return ErrNotAllowed
	}
	return nil
}
