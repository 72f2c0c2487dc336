//go:build tools

// Package tools pins go.etcd.io/etcd/server/v3 so that go mod tidy keeps it;
// scripts/tools.sh builds its root package (etcd's main) into bin/etcd.
package tools

import _ "go.etcd.io/etcd/server/v3"
