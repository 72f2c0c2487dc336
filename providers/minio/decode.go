package minio

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindMinIO,
		Doc:    "a MinIO deployment (admin API to freeze and probe, S3 API to read objects)",
		Decode: Decode,
	})
}

// block is the body of a minio block.
type block struct {
	Endpoint  string `hcl:"endpoint"`
	AccessKey string `hcl:"access_key"`
	SecretKey string `hcl:"secret_key"`
	CAFile    string `hcl:"ca_file,optional"`
	Region    string `hcl:"region,optional"`
}

// Decode decodes a minio block into a *Config, contacting nothing.
// Problems are diagnostics on the attribute at fault; the secret key is
// recorded in the plan's secret set (masked everywhere) whether or not it
// came from a sensitive value, and never appears in a diagnostic. Values
// unknown under `cutover validate` are not checked.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	if dc.Secrets != nil {
		dc.Secrets.Add(b.SecretKey)
	}
	attrs := attributes(body, &b)
	if a := attrs["endpoint"]; known(dc, a) {
		if _, err := ParseEndpoint(b.Endpoint); err != nil {
			diags = append(diags, diag("Invalid MinIO endpoint", err.Error()+".", a))
		}
	}
	if a := attrs["ca_file"]; known(dc, a) && b.CAFile != "" && known(dc, attrs["endpoint"]) {
		if u, err := ParseEndpoint(b.Endpoint); err == nil && u.Scheme != "https" {
			diags = append(diags, diag("CA file without TLS", "ca_file is only used with an https:// endpoint; this endpoint is "+b.Endpoint+".", a))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return &Config{Name: providers.KindMinIO + "." + name, Endpoint: b.Endpoint, AccessKey: b.AccessKey,
		SecretKey: b.SecretKey, CAFile: dc.Path(b.CAFile), Region: b.Region}, diags
}

// attributes returns the block's attributes by name, for their ranges.
func attributes(body hcl.Body, target any) hcl.Attributes {
	schema, _ := gohcl.ImpliedBodySchema(target)
	content, _, _ := body.PartialContent(schema)
	if content == nil {
		return hcl.Attributes{}
	}
	return content.Attributes
}

// known reports whether a is set and its value is wholly known (under
// `cutover validate` a variable without a value is unknown).
func known(dc *hcldecode.Context, a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(dc.Eval)
	return !diags.HasErrors() && v.IsWhollyKnown() && !v.IsNull()
}

// diag is an error diagnostic on an attribute's value.
func diag(summary, detail string, a *hcl.Attribute) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail,
		Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr()}
}

// Resolve resolves expr, a reference such as minio.prod in a step's attr
// attribute, to the deployment it names. Diagnostics carry expr's range.
// A nil Config with no error diagnostics means the reference could not be
// resolved yet (under validation); callers then skip what needs it.
func Resolve(dc *hcldecode.Context, expr hcl.Expression, attr string) (*Config, hcl.Diagnostics) {
	obj, diags := dc.Ref(expr, providers.KindMinIO, attr)
	if diags.HasErrors() || obj == nil {
		return nil, diags
	}
	c, ok := obj.(*Config)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a MinIO deployment",
			Detail: attr + " must refer to a minio block, such as minio.prod.", Subject: expr.Range().Ptr()}}
	}
	return c, nil
}
