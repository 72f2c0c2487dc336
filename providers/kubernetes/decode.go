package kubernetes

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindKubernetes,
		Doc:    "a Kubernetes API server (Secrets, ConfigMaps and workloads in one namespace)",
		Decode: Decode,
		Config: &block{},
	})
}

// block is the body of a kubernetes block.
type block struct {
	Kubeconfig string `hcl:"kubeconfig,optional" default:"$KUBECONFIG, else ~/.kube/config" doc:"The kubeconfig file; relative to the plan's directory. Its credentials stay in client-go and are never printed."`
	Context    string `hcl:"context,optional" default:"the kubeconfig's current context" doc:"The kubeconfig context to use."`
	InCluster  bool   `hcl:"in_cluster,optional" default:"false" doc:"Use the service account of the pod cutover runs in, instead of a kubeconfig."`
	Namespace  string `hcl:"namespace" doc:"The namespace of every object the plan's steps name."`
	Timeout    string `hcl:"timeout,optional" default:"30s" doc:"The deadline of each API call."`
}

// Decode decodes a kubernetes block into a *Config, contacting nothing.
// Problems are diagnostics on the attribute at fault; values unknown
// under `cutover validate` are not checked.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	attrs := hcldecode.Attributes(body, &b)
	c := &Config{Name: providers.KindKubernetes + "." + name, Context: b.Context, InCluster: b.InCluster, Namespace: b.Namespace}
	if b.Kubeconfig != "" {
		c.Kubeconfig = dc.Path(expandHome(b.Kubeconfig))
	}
	if a := attrs["in_cluster"]; b.InCluster && (b.Kubeconfig != "" || b.Context != "") && dc.Known(a) {
		diags = append(diags, hcldecode.AttrError("Conflicting cluster access",
			"in_cluster uses the pod's service account; remove kubeconfig and context, or in_cluster.", a))
	}
	if a := attrs["namespace"]; dc.Known(a) {
		if errs := validation.IsDNS1123Label(b.Namespace); len(errs) > 0 {
			diags = append(diags, hcldecode.AttrError("Invalid namespace", fmt.Sprintf("%q is not a namespace name: %s.", b.Namespace, errs[0]), a))
		}
	}
	if a := attrs["timeout"]; b.Timeout != "" && dc.Known(a) {
		d, err := time.ParseDuration(b.Timeout)
		if err != nil || d <= 0 {
			diags = append(diags, hcldecode.AttrError("Invalid timeout", fmt.Sprintf("%q is not a positive duration such as \"30s\".", b.Timeout), a))
		}
		c.CallTimeout = d
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

// Resolve resolves expr, a reference such as kubernetes.prod in a step's
// attr attribute, to the cluster it names. A nil Config with no error
// diagnostics means the reference could not be resolved yet (under
// validation).
func Resolve(dc *hcldecode.Context, expr hcl.Expression, attr string) (*Config, hcl.Diagnostics) {
	obj, diags := dc.Ref(expr, providers.KindKubernetes, attr)
	if diags.HasErrors() || obj == nil {
		return nil, diags
	}
	c, ok := obj.(*Config)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a Kubernetes cluster",
			Detail: attr + " must refer to a kubernetes block, such as kubernetes.prod.", Subject: expr.Range().Ptr()}}
	}
	return c, nil
}
