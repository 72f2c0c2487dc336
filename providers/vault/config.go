package vault

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

// Type is the `type` of the kms blocks this package decodes.
const Type = "vault"

// Defaults, as in KES's vault keystore.
const (
	DefaultEngine        = "kv"
	DefaultVersion       = V1
	DefaultAppRoleEngine = "approle"
)

func init() {
	providers.Register(providers.Backend{Kind: providers.KindKMS, Type: Type,
		Doc: "keys in a HashiCorp Vault KV v1 or v2 engine, laid out as KES's vault keystore", Decode: Decode, Config: &Block{}})
}

// Block is the body of a `kms "<name>" { type = "vault" ... }` block.
type Block struct {
	Endpoint  string        `hcl:"endpoint" doc:"Vault's URL, such as \"https://vault.internal:8200\"."`
	Engine    string        `hcl:"engine,optional" default:"\"kv\"" doc:"The KV engine's mount path (KES's keystore.vault.engine)."`
	Version   string        `hcl:"version,optional" default:"\"v1\"" doc:"The KV engine's version, \"v1\" or \"v2\"."`
	Prefix    string        `hcl:"prefix,optional" doc:"The path under the engine where keys live (KES's keystore.vault.prefix)."`
	Namespace string        `hcl:"namespace,optional" doc:"The Vault Enterprise namespace."`
	CAFile    string        `hcl:"ca_file,optional" doc:"PEM file of CAs to trust for an https endpoint; relative to the plan's directory."`
	Token     string        `hcl:"token,optional" sensitive:"true" doc:"A Vault token; set this or an approle block."`
	AppRole   *AppRoleBlock `hcl:"approle,block" doc:"Log in with AppRole instead of a token."`
}

// AppRoleBlock is the approle { } block.
type AppRoleBlock struct {
	Engine string `hcl:"engine,optional" default:"\"approle\"" doc:"The AppRole auth method's mount path."`
	ID     string `hcl:"id" sensitive:"true" doc:"The role ID."`
	Secret string `hcl:"secret" sensitive:"true" doc:"The secret ID."`
}

// AppRole is how the store logs in when it has no static token.
type AppRole struct {
	Engine string // auth mount, default "approle"
	ID     string // role ID
	Secret string // secret ID; never printed
}

// Config is a decoded vault block: a providers.KeyStoreConfig. Exactly one
// of Token and AppRole is set.
type Config struct {
	Name      string // "kms.<label>"
	Endpoint  string
	Engine    string // default "kv"
	Version   string // V1 or V2
	Prefix    string
	Namespace string
	CAFile    string
	Token     string // never printed
	AppRole   *AppRole
}

var _ providers.KeyStoreConfig = (*Config)(nil)

// Open returns the store without contacting Vault.
func (c *Config) Open(context.Context) (providers.KeyStore, error) { return New(c) }

// Describe says where the keys are and how the store logs in, never with
// a credential.
func (c *Config) Describe() string {
	engine := defaultString(c.Engine, DefaultEngine)
	loc := path.Join(engine, c.Prefix)
	if c.Version == V2 {
		loc = path.Join(engine, "data", c.Prefix)
	}
	d := fmt.Sprintf("vault KV %s at %s, %s/", c.Version, c.Endpoint, loc)
	if c.Namespace != "" {
		d += ", namespace " + c.Namespace
	}
	if c.AppRole != nil {
		return d + ", approle login at auth/" + c.AppRole.Engine
	}
	return d + ", token"
}

// check validates a Config built by code rather than by Decode.
func (c *Config) check() error {
	switch {
	case !validEndpoint(c.Endpoint):
		return fmt.Errorf("vault: endpoint %q must start with http:// or https://", c.Endpoint)
	case c.Version != V1 && c.Version != V2:
		return fmt.Errorf("vault: version %q must be %q or %q", c.Version, V1, V2)
	case (c.Token == "") == (c.AppRole == nil):
		return errors.New("vault: set exactly one of a token and an approle")
	case c.AppRole != nil && (c.AppRole.ID == "" || c.AppRole.Secret == "" || c.AppRole.Engine == ""):
		return errors.New("vault: approle needs an engine, an id and a secret")
	}
	return nil
}

// validEndpoint reports whether e is an http(s) URL.
func validEndpoint(e string) bool {
	return strings.HasPrefix(e, "http://") || strings.HasPrefix(e, "https://")
}

// Decode decodes a vault block. Bad input is reported with ranges: an
// endpoint that is not http(s), a version other than "v1" and "v2", empty
// credentials, both or neither of token and approle. The token and the
// approle id and secret are recorded as secrets.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b Block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	recordSecrets(dc, b)
	c := &Config{Name: providers.KindKMS + "." + name, Endpoint: b.Endpoint, Engine: defaultString(b.Engine, DefaultEngine),
		Version: defaultString(b.Version, DefaultVersion), Prefix: b.Prefix, Namespace: b.Namespace,
		CAFile: dc.Path(b.CAFile), Token: b.Token}
	if b.AppRole != nil {
		c.AppRole = &AppRole{Engine: defaultString(b.AppRole.Engine, DefaultAppRoleEngine), ID: b.AppRole.ID, Secret: b.AppRole.Secret}
	}
	return c, append(diags, checkBlock(body, dc, b)...)
}

// recordSecrets adds the credentials to the plan's secrets, sensitive or not.
func recordSecrets(dc *hcldecode.Context, b Block) {
	if dc.Secrets == nil {
		return
	}
	dc.Secrets.Add(b.Token)
	if b.AppRole != nil {
		dc.Secrets.Add(b.AppRole.ID, b.AppRole.Secret)
	}
}

// checkBlock reports the block's semantic errors.
func checkBlock(body hcl.Body, dc *hcldecode.Context, b Block) hcl.Diagnostics {
	attrs, blocks := partial(body)
	var diags hcl.Diagnostics
	if a := attrs["endpoint"]; dc.Known(a) && !validEndpoint(b.Endpoint) {
		diags = append(diags, hcldecode.AttrError("Invalid endpoint", fmt.Sprintf("The Vault endpoint %q must be an http:// or https:// URL, such as \"https://vault.internal:8200\".", b.Endpoint), a))
	}
	if a := attrs["version"]; dc.Known(a) && b.Version != V1 && b.Version != V2 {
		diags = append(diags, hcldecode.AttrError("Invalid version", fmt.Sprintf("The KV engine version is %q; use \"v1\" or \"v2\", as in KES's config.", b.Version), a))
	}
	return append(diags, checkCredentials(body, dc, b, attrs["token"], blocks)...)
}

// checkCredentials requires exactly one of token and approle, non-empty.
func checkCredentials(body hcl.Body, dc *hcldecode.Context, b Block, token *hcl.Attribute, approle hcl.Blocks) hcl.Diagnostics {
	switch {
	case token != nil && len(approle) > 0:
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Conflicting credentials",
			Detail:  "Set either token or an approle block, not both: the store would not know which to use.",
			Subject: approle[0].DefRange.Ptr()}}
	case token == nil && len(approle) == 0:
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing credentials",
			Detail:  "The vault key store needs a token or an approle block (with id and secret).",
			Subject: body.MissingItemRange().Ptr()}}
	case token != nil && dc.Known(token) && b.Token == "":
		return hcl.Diagnostics{hcldecode.AttrError("Empty token", "The Vault token is empty.", token)}
	case len(approle) > 0:
		return checkAppRole(approle[0], dc, b.AppRole)
	}
	return nil
}

// checkAppRole refuses an empty known id or secret.
func checkAppRole(blk *hcl.Block, dc *hcldecode.Context, r *AppRoleBlock) hcl.Diagnostics {
	attrs, _ := partial(blk.Body)
	var diags hcl.Diagnostics
	for name, v := range map[string]string{"id": r.ID, "secret": r.Secret} {
		if a := attrs[name]; dc.Known(a) && v == "" {
			diags = append(diags, hcldecode.AttrError("Empty approle "+name, "The AppRole "+name+" is empty.", a))
		}
	}
	return diags
}

// partial returns the attributes and approle blocks of body, decoded
// leniently (DecodeBody already reported structural errors).
func partial(body hcl.Body) (hcl.Attributes, hcl.Blocks) {
	schema := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "approle"}}}
	for _, n := range []string{"endpoint", "version", "token", "id", "secret"} {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, _, _ := body.PartialContent(schema)
	if content == nil {
		return nil, nil
	}
	return content.Attributes, content.Blocks.OfType("approle")
}
