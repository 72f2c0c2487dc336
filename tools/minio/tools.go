//go:build tools

// Package tools pins github.com/minio/minio so that go mod tidy keeps it; scripts/tools.sh
// builds that package into bin/minio.
package tools

import _ "github.com/minio/minio"
