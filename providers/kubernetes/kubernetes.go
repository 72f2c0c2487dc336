// Package kubernetes is the `kubernetes` system block: a Kubernetes API
// server that env and restart steps reach with k8s.io/client-go. A plan
// declares it as
//
//	kubernetes "prod" {
//	  kubeconfig = "~/.kube/config"   # or in_cluster = true
//	  context    = "prod-admin"       # the kubeconfig's current context when empty
//	  namespace  = "minio"            # required: every object a step names lives here
//	  timeout    = "30s"              # deadline of each API call (default 30s)
//	}
//
// The block decodes to a *Config, which contacts nothing until a call is
// made; the client is then built once and shared. Every call runs under a
// deadline (Call): the block's timeout, or the caller's context if that
// ends first. Bearer tokens and client keys of the kubeconfig stay inside
// client-go: nothing of them is printed or stored.
package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultCallTimeout bounds one API call when the block sets no timeout.
const DefaultCallTimeout = 30 * time.Second

// Config is what a `kubernetes "<name>" { ... }` block decodes to. Use it
// through a pointer: it holds the client it builds.
type Config struct {
	// Name is the plan's name for the cluster ("kubernetes.prod").
	Name string
	// Kubeconfig is the absolute path of a kubeconfig file; empty with
	// InCluster (the pod's service account) or for client-go's default
	// loading rules ($KUBECONFIG, ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context; empty means its current one.
	Context string
	// InCluster uses the service account of the pod cutover runs in.
	InCluster bool
	// Namespace holds every object the plan's steps name.
	Namespace string
	// CallTimeout bounds each API call.
	CallTimeout time.Duration

	mu     sync.Mutex
	client kubernetes.Interface
}

// Describe names the cluster for messages: the block, the context and the
// namespace (no credentials).
func (c *Config) Describe() string {
	where := "in-cluster"
	if !c.InCluster {
		where = "context " + orDefault(c.Context, "(current)")
	}
	return fmt.Sprintf("%s (%s, namespace %s)", c.Name, where, c.Namespace)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Client returns the clientset, building it on first use.
func (c *Config) Client() (kubernetes.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	rc, err := c.restConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	c.client = cs
	return cs, nil
}

// restConfig loads the client configuration the block names.
func (c *Config) restConfig() (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if c.InCluster {
		rc, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if c.Kubeconfig != "" {
			rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig}
		}
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
			&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the client configuration: %w", err)
	}
	rc = rest.CopyConfig(rc)
	rc.Timeout = c.callTimeout()
	rc.UserAgent = "cutover"
	return rc, nil
}

func (c *Config) callTimeout() time.Duration {
	if c.CallTimeout > 0 {
		return c.CallTimeout
	}
	return DefaultCallTimeout
}

// Call runs fn with the clientset under the per-call deadline (or ctx's,
// when earlier).
func (c *Config) Call(ctx context.Context, fn func(ctx context.Context, cs kubernetes.Interface) error) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.callTimeout())
	defer cancel()
	return fn(cctx, cs)
}

// expandHome turns a leading ~/ into the user's home directory.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
