package awskms

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/cutover/cutover/providers"
)

// Errors of this package, besides the providers sentinels.
var (
	// ErrKeyUnusable: the key exists but cannot encrypt or decrypt now
	// (Disabled, PendingDeletion, PendingImport, unavailable).
	ErrKeyUnusable = errors.New("aws kms key is not usable")
	// ErrAccessDenied: the credentials are refused, or not allowed to
	// call the operation on that key.
	ErrAccessDenied = errors.New("aws kms access denied")
	// ErrProof: an Encrypt/Decrypt round trip did not give back the
	// plaintext, or AWS refused the ciphertext it had just made.
	ErrProof = errors.New("aws kms encrypt/decrypt round trip failed")
	// ErrInvalidName: the name cannot be part of a KMS alias.
	ErrInvalidName = errors.New("invalid aws kms key name")
	// ErrNoRegion: neither the block nor the SDK's default chain names a
	// region.
	ErrNoRegion = errors.New("no AWS region")
	// ErrNoCredentials: neither the block nor the SDK's default chain
	// gives credentials; no request was sent.
	ErrNoCredentials = errors.New("no AWS credentials")
)

// sentinels maps AWS error codes to the sentinel they mean.
var sentinels = map[string]error{
	"NotFoundException":             providers.ErrKeyNotFound,
	"AlreadyExistsException":        providers.ErrKeyExists,
	"UnsupportedOperationException": providers.ErrUnsupported,
	"DisabledException":             ErrKeyUnusable,
	"KMSInvalidStateException":      ErrKeyUnusable,
	"KeyUnavailableException":       ErrKeyUnusable,
	"AccessDeniedException":         ErrAccessDenied,
	"UnrecognizedClientException":   ErrAccessDenied,
	"InvalidSignatureException":     ErrAccessDenied,
	"InvalidCiphertextException":    ErrProof,
	"IncorrectKeyException":         ErrProof,
	"InvalidAliasNameException":     ErrInvalidName,
}

// Error is a failed KMS call. errors.Is matches its sentinel (see
// sentinels) and errors.As reaches the SDK's error.
type Error struct {
	Op  string // the KMS operation, e.g. "CreateAlias"
	Ref string // the key id, ARN or alias it was about
	// Code and Message are AWS's error code and message ("" for
	// transport errors).
	Code, Message string
	Sentinel      error // nil when the code means nothing in particular
	Err           error // the SDK's error
}

// Error is "aws kms OP REF: CODE: message", or the SDK's text for
// transport errors.
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("aws kms %s %s: %v", e.Op, e.Ref, e.Err)
	}
	return fmt.Sprintf("aws kms %s %s: %s: %s", e.Op, e.Ref, e.Code, e.Message)
}

// Unwrap returns the sentinel (if any) and the SDK's error.
func (e *Error) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{e.Err}
	}
	return []error{e.Sentinel, e.Err}
}

// wrap turns an SDK error of op on ref into an *Error; nil stays nil.
func wrap(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Ref: ref, Err: err}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code, e.Message = apiErr.ErrorCode(), apiErr.ErrorMessage()
		e.Sentinel = sentinels[e.Code]
	}
	return e
}
