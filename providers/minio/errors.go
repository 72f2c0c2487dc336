package minio

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/minio/madmin-go/v3"

	"github.com/cutover/cutover/internal/httpx"
)

// Errors the operations return, wrapped with detail; test with errors.Is.
var (
	// ErrUnsupported: the server does not implement the admin call (an old
	// MinIO, or not MinIO at all).
	ErrUnsupported = errors.New("not supported by this server")
	// ErrKMSNotConfigured: MinIO runs without a KMS, so it encrypts nothing.
	ErrKMSNotConfigured = errors.New("minio has no KMS configured")
	// ErrKeyUnusable: the KMS could not generate or decrypt a data key
	// under the key name (missing key, wrong permissions, KMS down).
	ErrKeyUnusable = errors.New("kms key unusable")
	// ErrNotReady: /minio/health/ready did not answer 200; the KMS, the
	// drives or etcd are not available (or MinIO is still starting).
	ErrNotReady = errors.New("minio is not ready")
	// ErrStillFrozen: S3 requests still wait after Unfreeze.
	ErrStillFrozen = errors.New("s3 requests are still frozen")
	// ErrNotFrozen: S3 requests are still served after Freeze.
	ErrNotFrozen = errors.New("s3 requests are not frozen")
)

// PeerError is a freeze or unfreeze that some nodes of a distributed
// deployment did not apply.
type PeerError struct {
	// Action is "freeze" or "unfreeze".
	Action string
	// Failed maps a node's address to its error.
	Failed map[string]string
}

func (e *PeerError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for host, msg := range e.Failed {
		parts = append(parts, host+": "+msg)
	}
	return fmt.Sprintf("%s failed on %d node(s): %s", e.Action, len(e.Failed), strings.Join(parts, "; "))
}

// adminError maps a madmin error onto the package's sentinels; an
// unreachable deployment, refused credentials or an admin API the server
// does not offer (501 NotImplemented) become an *httpx.EndpointError.
func (c *Config) adminError(op string, err error) error {
	resp := madmin.ToErrorResponse(err)
	switch {
	case resp.Code == "NotImplemented" && strings.Contains(resp.Message, "KMS"):
		err = fmt.Errorf("%w (%s)", ErrKMSNotConfigured, resp.Message)
	case resp.Code == "NotImplemented" || resp.Code == "XMinioAdminNotImplemented" || resp.Code == "NotFound" ||
		resp.Code == "MethodNotAllowed":
		err = fmt.Errorf("%w (%s)", ErrUnsupported, resp.Message)
	}
	return fmt.Errorf("%s: %w", op, httpx.Endpoint("minio "+c.Endpoint, c.Name, op, time.Time{}, httpx.WithAnswer(0, resp.Code, err)))
}
