package minio

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindMinIO,
		Doc:    "a MinIO deployment (admin API to freeze and probe, S3 API to read objects)",
		Decode: Decode,
		Config: &block{},
	})
}

// block is the body of a minio block.
type block struct {
	Endpoint  string `hcl:"endpoint" doc:"MinIO's URL, http:// or https://, such as \"https://minio.internal:9000\"."`
	AccessKey string `hcl:"access_key" doc:"An access key with admin rights (freeze, service status, KMS status) and read access to the objects validated."`
	SecretKey string `hcl:"secret_key" sensitive:"true" doc:"The access key's secret."`
	CAFile    string `hcl:"ca_file,optional" doc:"PEM file of CAs to trust for an https endpoint; relative to the plan's directory."`
	Region    string `hcl:"region,optional" default:"the deployment's (its server info; \"us-east-1\" when it has none)" doc:"The S3 region to sign requests with."`
}

// Decode decodes a minio block into a *Config, contacting nothing.
// Problems are diagnostics on the attribute at fault; the secret key is
// recorded in the plan's secret set (masked everywhere) whether or not it
// came from a sensitive value, and never appears in a diagnostic. Values
// unknown under `cutover validate` are not checked.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b block
	diags := dc.DecodeBody(body, &b)
	if dc.Secrets != nil {
		dc.Secrets.Add(b.SecretKey)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	attrs := hcldecode.Attributes(body, &b)
	if a := attrs["endpoint"]; dc.Known(a) {
		if _, err := ParseEndpoint(b.Endpoint); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid MinIO endpoint", err.Error()+".", a))
		}
	}
	if a := attrs["ca_file"]; dc.Known(a) && b.CAFile != "" && dc.Known(attrs["endpoint"]) {
		if u, err := ParseEndpoint(b.Endpoint); err == nil && u.Scheme != "https" {
			diags = append(diags, hcldecode.AttrError("CA file without TLS", "ca_file is only used with an https:// endpoint; this endpoint is "+b.Endpoint+".", a))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return &Config{Name: providers.KindMinIO + "." + name, Endpoint: b.Endpoint, AccessKey: b.AccessKey,
		SecretKey: b.SecretKey, CAFile: dc.Path(b.CAFile), Region: b.Region}, diags
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
