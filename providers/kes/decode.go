package kes

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/internal/keskey"
	"github.com/cutover/cutover/providers"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindKMS,
		Type:   Type,
		Doc:    "a KES server (keys imported through its API; material never readable)",
		Decode: Decode,
	})
}

// block is the body of a kes kms block.
type block struct {
	Endpoint string `hcl:"endpoint"`
	APIKey   string `hcl:"api_key,optional"`
	CertFile string `hcl:"cert_file,optional"`
	KeyFile  string `hcl:"key_file,optional"`
	CAFile   string `hcl:"ca_file,optional"`
	Enclave  string `hcl:"enclave,optional"`
}

// Decode decodes a kes kms block into a *Config. Problems are diagnostics
// on the attribute at fault; the API key's value never appears in them.
// Values unknown under `cutover validate` are not checked.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	if dc.Secrets != nil {
		dc.Secrets.Add(b.APIKey)
	}
	attrs := attributes(body, &b)
	diags = append(diags, checkBlock(&b, attrs, body, dc)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Config{Name: providers.KindKMS + "." + name, Endpoint: b.Endpoint, APIKey: b.APIKey,
		CertFile: dc.Path(b.CertFile), KeyFile: dc.Path(b.KeyFile), CAFile: dc.Path(b.CAFile),
		Enclave: b.Enclave}, diags
}

// checkBlock validates the decoded values.
func checkBlock(b *block, attrs hcl.Attributes, body hcl.Body, dc *hcldecode.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a := attrs["endpoint"]; known(dc, a) {
		if _, err := parseEndpoint(b.Endpoint); err != nil {
			diags = append(diags, diag("Invalid KES endpoint", err.Error()+".", a))
		}
	}
	if a := attrs["api_key"]; known(dc, a) {
		if _, err := kesauth.Parse(b.APIKey); err != nil {
			diags = append(diags, diag("Invalid KES API key", "The api_key is not a KES API key: "+err.Error()+
				`. Create one with "kes identity new".`, a))
		}
	}
	if a := attrs["enclave"]; known(dc, a) && b.Enclave != "" {
		if err := keskey.ValidName(b.Enclave); err != nil {
			diags = append(diags, diag("Invalid KES enclave", "The enclave name is invalid: "+err.Error()+".", a))
		}
	}
	return append(diags, checkAuth(attrs, body)...)
}

// checkAuth requires exactly one way to authenticate: api_key, or both
// cert_file and key_file.
func checkAuth(attrs hcl.Attributes, body hcl.Body) hcl.Diagnostics {
	apiKey, cert, key := attrs["api_key"], attrs["cert_file"], attrs["key_file"]
	switch {
	case apiKey != nil && (cert != nil || key != nil):
		other := cert
		if other == nil {
			other = key
		}
		return hcl.Diagnostics{diag("Conflicting KES credentials",
			"Set either api_key or cert_file and key_file, not both.", other)}
	case apiKey == nil && cert == nil && key == nil:
		r := body.MissingItemRange()
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing KES credentials",
			Detail:  "A kes kms block needs api_key (a \"kes:v1:...\" API key), or cert_file and key_file.",
			Subject: &r}}
	case apiKey == nil && (cert == nil || key == nil):
		present := cert
		if present == nil {
			present = key
		}
		return hcl.Diagnostics{diag("Incomplete KES credentials",
			"cert_file and key_file must be set together.", present)}
	}
	return nil
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
