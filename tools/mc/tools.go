//go:build tools

// Package tools pins github.com/minio/mc so that go mod tidy keeps it; scripts/tools.sh
// builds that package into bin/mc.
package tools

import _ "github.com/minio/mc"
