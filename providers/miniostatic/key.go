// Package miniostatic is MinIO's static KMS key as a read-only key store
// holding exactly one key. MinIO reads it from
// MINIO_KMS_SECRET_KEY=<name>:<base64 of 32 bytes> (or from the file named
// by MINIO_KMS_SECRET_KEY_FILE); a plan declares it as one of
//
//	kms "local" { type = "minio_static"  secret_key      = file("minio.key") }
//	kms "local" { type = "minio_static"  secret_key_file = "/etc/minio/kms.key" }
//	kms "local" { type = "minio_static"  env_file        = "/etc/default/minio" }
//
// A file or env file is read when the store is opened, not when the plan is
// loaded: a plan's own steps rewrite /etc/default/minio, and the store
// keeps the key it read at Open for the rest of the run.
//
// The store lists its one name and Get returns the material; Create and
// Delete return providers.ErrUnsupported. Invalid input is reported with
// errors wrapping ErrInvalid that say what is wrong and never contain the
// value or any part of it (the key name included: a value written the
// wrong way round would put the secret where the name belongs).
package miniostatic

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/cutover/cutover/providers"
)

// Type is the `type` of a kms block served by this package.
const Type = "minio_static"

// Environment variables MinIO reads its static key from.
const (
	EnvSecretKey     = "MINIO_KMS_SECRET_KEY"
	EnvSecretKeyFile = "MINIO_KMS_SECRET_KEY_FILE"
)

// KeySize is the size of MinIO's static key.
const KeySize = 32

// maxNameLength bounds key names (KES's limit).
const maxNameLength = 80

// ErrInvalid is wrapped by every error about the format of a static key.
var ErrInvalid = errors.New("invalid MinIO static key")

// ParseKey parses "<name>:<base64 of 32 bytes>" as MinIO does (the name
// ends at the first ':'; the base64 is standard, padded, and may contain
// line breaks, so a file ending in a newline is fine). The name must be 1
// to 80 of A-Z a-z 0-9 . _ - and not start with '-' or '.'. Errors wrap
// ErrInvalid and never contain any part of s.
func ParseKey(s string) (name string, key providers.Key, err error) {
	name, b64, ok := strings.Cut(s, ":")
	if !ok {
		return "", key, fmt.Errorf(`%w: want "<name>:<base64 key>", found no ':'`, ErrInvalid)
	}
	if err := checkName(name); err != nil {
		return "", key, err
	}
	material, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", key, fmt.Errorf("%w: the part after ':' is not standard base64", ErrInvalid)
	}
	if len(material) != KeySize {
		return "", key, fmt.Errorf("%w: the key is %d bytes, want %d", ErrInvalid, len(material), KeySize)
	}
	return name, providers.Key{Material: material, Algorithm: "AES256"}, nil
}

// checkName validates a key name without quoting it.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLength {
		return fmt.Errorf("%w: the key name before ':' must be 1 to %d characters long", ErrInvalid, maxNameLength)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' ||
			(r == '-' || r == '.') && i > 0
		if !ok {
			return fmt.Errorf("%w: the key name before ':' may hold only A-Z a-z 0-9 . _ - (character %d is not one of them)", ErrInvalid, i+1)
		}
	}
	return nil
}
