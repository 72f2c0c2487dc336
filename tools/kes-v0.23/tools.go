//go:build tools

// Package tools pins github.com/minio/kes/cmd/kes at v0.23.0 so that go mod
// tidy keeps it; scripts/tools.sh builds that package into bin/kes-v0.23.
package tools

import _ "github.com/minio/kes/cmd/kes"
