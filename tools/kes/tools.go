//go:build tools

// Package tools pins github.com/minio/kes/cmd/kes so that go mod tidy keeps it; scripts/tools.sh
// builds that package into bin/kes.
package tools

import _ "github.com/minio/kes/cmd/kes"
