//go:build tools

// Package tools pins k8s.io/kubernetes/cmd/kube-controller-manager so that go mod tidy keeps it;
// scripts/tools.sh builds that package into bin/kube-controller-manager.
package tools

import _ "k8s.io/kubernetes/cmd/kube-controller-manager"
