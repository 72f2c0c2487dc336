package fs

import (
	"context"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

// Type is the `type` of the kms blocks this package decodes.
const Type = "fs"

func init() {
	providers.Register(providers.Backend{Kind: providers.KindKMS, Type: Type,
		Doc: "a directory with one file per key, as KES's filesystem keystore writes it", Decode: Decode, Config: &Block{}})
}

// Block is the body of a `kms "<name>" { type = "fs" ... }` block.
type Block struct {
	// Path is the keystore directory (KES's keystore.fs.path).
	Path string `hcl:"path" doc:"The keystore directory (KES's keystore.fs.path); relative to the plan's directory."`
}

// Config is a decoded fs block: a providers.KeyStoreConfig.
type Config struct {
	Name string // "kms.<label>"
	Dir  string // absolute, or relative to the working directory
}

var _ providers.KeyStoreConfig = (*Config)(nil)

// Decode decodes an fs block; a missing or empty path is an error with the
// block's or the attribute's range. Relative paths are resolved from the
// plan's directory.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b Block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	if a := attribute(body, "path"); a != nil && b.Path == "" && known(dc, a) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty path",
			Detail:  "The fs key store needs the directory that holds the key files, such as \"/var/kes/keys\".",
			Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr()})
	}
	return &Config{Name: providers.KindKMS + "." + name, Dir: dc.Path(b.Path)}, diags
}

// Open returns the store; it fails if the directory does not exist.
func (c *Config) Open(context.Context) (providers.KeyStore, error) { return New(c.Name, c.Dir) }

// Describe says where the keys are.
func (c *Config) Describe() string { return "fs keystore at " + c.Dir }

// attribute returns the attribute name of body, or nil.
func attribute(body hcl.Body, name string) *hcl.Attribute {
	content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	if content == nil {
		return nil
	}
	return content.Attributes[name]
}

// known reports whether a's value is known (not an input `cutover
// validate` does not have).
func known(dc *hcldecode.Context, a *hcl.Attribute) bool {
	v, diags := a.Expr.Value(dc.Eval)
	return !diags.HasErrors() && v.IsWhollyKnown()
}
