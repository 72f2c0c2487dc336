package awskms

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers"
)

func init() {
	providers.Register(providers.Backend{
		Kind:   providers.KindKMS,
		Type:   Type,
		Doc:    "AWS KMS keys with imported material, named by alias (material never readable)",
		Decode: Decode,
		Config: &block{},
	})
}

// regionPattern is the shape of AWS region names.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)

// block is the body of an aws_kms kms block.
type block struct {
	Region       string `hcl:"region,optional" default:"the SDK's (AWS_REGION, shared config)" doc:"The AWS region, such as \"eu-west-1\"."`
	Endpoint     string `hcl:"endpoint,optional" default:"AWS's endpoint for the region" doc:"An http:// or https:// endpoint to use instead of AWS's."`
	AccessKey    string `hcl:"access_key,optional" doc:"An access key ID; without it (and secret_key) the SDK's default credential chain is used (environment, shared files, SSO, IAM role)."`
	SecretKey    string `hcl:"secret_key,optional" sensitive:"true" doc:"The access key's secret; set with access_key."`
	SessionToken string `hcl:"session_token,optional" sensitive:"true" doc:"A session token for temporary credentials; only with access_key and secret_key."`
	AliasPrefix  string `hcl:"alias_prefix,optional" doc:"Put between \"alias/\" and every key name: key N is the alias \"alias/<alias_prefix>N\"."`
}

// Decode decodes an aws_kms kms block into a *Config. The secret key and
// session token are recorded as secrets and never appear in diagnostics.
// Values unknown under `cutover validate` are not checked.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	if dc.Secrets != nil {
		dc.Secrets.Add(b.SecretKey, b.SessionToken)
	}
	diags = append(diags, checkBlock(&b, hcldecode.Attributes(body, &b), dc)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Config{Name: providers.KindKMS + "." + name, Region: b.Region, Endpoint: b.Endpoint,
		AccessKey: b.AccessKey, SecretKey: b.SecretKey, SessionToken: b.SessionToken,
		AliasPrefix: b.AliasPrefix}, diags
}

// checkBlock validates the decoded values.
func checkBlock(b *block, attrs hcl.Attributes, dc *hcldecode.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a := attrs["region"]; dc.Known(a) && b.Region != "" && !regionPattern.MatchString(b.Region) {
		diags = append(diags, hcldecode.AttrError("Invalid AWS region", fmt.Sprintf("%q is not an AWS region name, such as \"eu-west-1\".", b.Region), a))
	}
	if a := attrs["endpoint"]; dc.Known(a) && b.Endpoint != "" {
		if u, err := url.Parse(b.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			diags = append(diags, hcldecode.AttrError("Invalid KMS endpoint", fmt.Sprintf("%q is not an http or https URL with a host.", b.Endpoint), a))
		}
	}
	if a := attrs["alias_prefix"]; dc.Known(a) {
		if err := checkPrefix(b.AliasPrefix); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid alias prefix", err.Error()+".", a))
		}
	}
	return append(diags, checkCredentials(b, attrs, dc)...)
}

// checkCredentials requires access_key and secret_key together, and
// session_token only with them. An empty value counts as unset (the SDK's
// default chain), so a plan can pass credentials through variables that
// default to ""; a value unknown under `cutover validate` counts as set.
func checkCredentials(b *block, attrs hcl.Attributes, dc *hcldecode.Context) hcl.Diagnostics {
	set := func(name, value string) *hcl.Attribute {
		if a := attrs[name]; a != nil && (value != "" || !dc.Known(a)) {
			return a
		}
		return nil
	}
	ak, sk, tok := set("access_key", b.AccessKey), set("secret_key", b.SecretKey), set("session_token", b.SessionToken)
	switch {
	case ak != nil && sk == nil:
		return hcl.Diagnostics{hcldecode.AttrError("Incomplete AWS credentials", "access_key needs secret_key in the same block.", ak)}
	case sk != nil && ak == nil:
		return hcl.Diagnostics{hcldecode.AttrError("Incomplete AWS credentials", "secret_key needs access_key in the same block.", sk)}
	case tok != nil && ak == nil:
		return hcl.Diagnostics{hcldecode.AttrError("Incomplete AWS credentials",
			"session_token needs access_key and secret_key in the same block; without them the SDK's default credentials are used.", tok)}
	}
	return nil
}
