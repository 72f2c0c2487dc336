package miniostatic

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindKMS,
		Type:   Type,
		Doc:    "MinIO's static key MINIO_KMS_SECRET_KEY (one readable key; read-only)",
		Decode: Decode,
		Config: &block{},
	})
}

// block is the body of a minio_static kms block.
type block struct {
	SecretKey     string `hcl:"secret_key,optional" sensitive:"true" doc:"The static key itself, \"<name>:<base64 of 32 bytes>\" as in MINIO_KMS_SECRET_KEY. Set exactly one of secret_key, secret_key_file and env_file."`
	SecretKeyFile string `hcl:"secret_key_file,optional" doc:"A file holding the static key (MINIO_KMS_SECRET_KEY_FILE); relative to the plan's directory."`
	EnvFile       string `hcl:"env_file,optional" doc:"MinIO's environment file (/etc/default/minio), from which the key is read; relative to the plan's directory."`
}

// sources are the attributes that name where the key is, in the order
// the diagnostics list them.
var sources = []string{"secret_key", "secret_key_file", "env_file"}

// Decode decodes a minio_static kms block into a *Config. A secret_key
// given in the plan is recorded as a secret and checked now; files are
// only read by Open. Diagnostics never contain the key.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	recordSecret(dc, b.SecretKey)
	attrs := hcldecode.Attributes(body, &b)
	diags = append(diags, checkSources(attrs, body)...)
	if a := attrs["secret_key"]; dc.Known(a) {
		if _, _, err := ParseKey(b.SecretKey); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid MinIO static key", "The secret_key is not a MinIO static key: "+err.Error()+".", a))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return &Config{Name: providers.KindKMS + "." + name, SecretKey: b.SecretKey,
		SecretKeyFile: dc.Path(b.SecretKeyFile), EnvFile: dc.Path(b.EnvFile)}, diags
}

// recordSecret masks the whole value and its base64 part.
func recordSecret(dc *hcldecode.Context, v string) {
	if dc.Secrets == nil || v == "" {
		return
	}
	dc.Secrets.Add(v, strings.TrimSpace(v))
	if _, b64, ok := strings.Cut(v, ":"); ok {
		dc.Secrets.Add(b64, strings.TrimSpace(b64))
	}
}

// checkSources requires exactly one source attribute.
func checkSources(attrs hcl.Attributes, body hcl.Body) hcl.Diagnostics {
	var set []*hcl.Attribute
	for _, name := range sources {
		if a := attrs[name]; a != nil {
			set = append(set, a)
		}
	}
	switch {
	case len(set) == 0:
		r := body.MissingItemRange()
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing MinIO static key",
			Detail:  "A minio_static kms block needs one of secret_key (\"<name>:<base64>\"), secret_key_file or env_file.",
			Subject: &r}}
	case len(set) > 1:
		return hcl.Diagnostics{hcldecode.AttrError("Conflicting MinIO static key sources",
			"Set only one of secret_key, secret_key_file and env_file; "+set[0].Name+" is already set.", set[1])}
	}
	return nil
}
