package kes

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/kesauth"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindKMS,
		Type:   Type,
		Doc:    "a KES server (keys imported through its API; material never readable)",
		Decode: Decode,
		Config: &block{},
	})
}

// block is the body of a kes kms block.
type block struct {
	Endpoint string `hcl:"endpoint" doc:"KES's URL, such as \"https://kes.internal:7373\"."`
	APIKey   string `hcl:"api_key,optional" sensitive:"true" doc:"A KES API key (\"kes:v1:...\", from kes identity new); set this, or cert_file and key_file."`
	CertFile string `hcl:"cert_file,optional" doc:"A client certificate (PEM) for mTLS, with key_file; relative to the plan's directory."`
	KeyFile  string `hcl:"key_file,optional" doc:"The client certificate's private key (PEM); relative to the plan's directory."`
	CAFile   string `hcl:"ca_file,optional" doc:"PEM file of CAs to trust for KES's certificate; relative to the plan's directory."`
	Enclave  string `hcl:"enclave,optional" doc:"The KES enclave (KES versions that have them)."`
	// Keystore names the kms block of the store KES keeps its keys in.
	Keystore hcl.Expression `hcl:"keystore,optional" type:"reference to kms.<name>" doc:"The kms block of the store this KES keeps its keys in (fs, vault, aws_secretsmanager; never another KES): a key a migration writes into that store counts as a key this KES serves, e.g. when an env step checks MinIO's default key before switching MinIO to this KES."`
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
	attrs := hcldecode.Attributes(body, &b)
	diags = append(diags, checkBlock(&b, attrs, body, dc)...)
	keystore, d := decodeKeystore(b.Keystore, dc)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Config{Name: providers.KindKMS + "." + name, Endpoint: b.Endpoint, APIKey: b.APIKey,
		CertFile: dc.Path(b.CertFile), KeyFile: dc.Path(b.KeyFile), CAFile: dc.Path(b.CAFile),
		Enclave: b.Enclave, Keystore: keystore}, diags
}

// decodeKeystore resolves the optional keystore = kms.<name>: a key store
// other than a KES server (KES keeps its keys in fs, Vault, AWS Secrets
// Manager..., never in another KES).
func decodeKeystore(expr hcl.Expression, dc *hcldecode.Context) (providers.KeyStoreConfig, hcl.Diagnostics) {
	if expr == nil {
		return nil, nil
	}
	obj, diags := dc.Ref(expr, providers.KindKMS, "keystore")
	if diags.HasErrors() || obj == nil {
		return nil, diags
	}
	cfg, ok := obj.(providers.KeyStoreConfig)
	if _, isKES := obj.(*Config); !ok || isKES {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid KES keystore",
			Detail:  "keystore must refer to the kms block of the store this KES keeps its keys in (its keystore: fs, vault, aws_secretsmanager), not to another KES.",
			Subject: expr.Range().Ptr()}}
	}
	return cfg, nil
}

// checkBlock validates the decoded values.
func checkBlock(b *block, attrs hcl.Attributes, body hcl.Body, dc *hcldecode.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a := attrs["endpoint"]; dc.Known(a) {
		if _, err := parseEndpoint(b.Endpoint); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid KES endpoint", err.Error()+".", a))
		}
	}
	if a := attrs["api_key"]; dc.Known(a) {
		if _, err := kesauth.Parse(b.APIKey); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid KES API key", "The api_key is not a KES API key: "+err.Error()+
				`. Create one with "kes identity new".`, a))
		}
	}
	if a := attrs["enclave"]; dc.Known(a) && b.Enclave != "" {
		if err := keskey.ValidName(b.Enclave); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid KES enclave", "The enclave name is invalid: "+err.Error()+".", a))
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
		return hcl.Diagnostics{hcldecode.AttrError("Conflicting KES credentials",
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
		return hcl.Diagnostics{hcldecode.AttrError("Incomplete KES credentials",
			"cert_file and key_file must be set together.", present)}
	}
	return nil
}
