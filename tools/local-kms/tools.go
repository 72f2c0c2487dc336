//go:build tools

// Package tools pins github.com/nsmithuk/local-kms so that go mod tidy keeps
// it; scripts/tools.sh builds that module's main package into bin/local-kms.
package tools

import _ "github.com/nsmithuk/local-kms"
