package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errNoDeployment is returned when the minio block did not decode.
var errNoDeployment = errors.New("the minio block this check refers to has errors")

// target names what the step checks, for errors.
func (s *Step) target() string {
	if s.MinIO == nil {
		return s.URL
	}
	if s.minio == nil {
		return "minio"
	}
	return s.minio.Describe()
}

// describeMinIO says what the MinIO mode checks.
func (s *Step) describeMinIO() string {
	d := fmt.Sprintf("%s: GET /minio/health/ready until 200 (MinIO asks its KMS for a data key)", s.target())
	if s.KMSKey != "" {
		d += fmt.Sprintf(", and KMS key %q generates and decrypts a fresh data key (not proof that existing objects decrypt)", s.KMSKey)
	}
	return d
}

// probeMinIO checks readiness once, then the key when kms_key is set.
func (s *Step) probeMinIO(ctx context.Context) error {
	if s.minio == nil {
		return errNoDeployment
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.minio.Ready(rctx); err != nil {
		return err
	}
	if s.KMSKey == "" {
		return nil
	}
	_, err := s.minio.KeyStatus(rctx, s.KMSKey)
	return err
}
