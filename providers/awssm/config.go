package awssm

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"
	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers"
)

// Type is the `type` of the kms blocks this package decodes.
const Type = "aws_secretsmanager"

func init() {
	providers.Register(providers.Backend{Kind: providers.KindKMS, Type: Type,
		Doc: "keys as AWS Secrets Manager secrets, laid out as KES's AWS keystore", Decode: Decode, Config: &Block{}})
}

// Block is the body of a `kms "<name>" { type = "aws_secretsmanager" ... }`
// block.
type Block struct {
	Region       string `hcl:"region" doc:"The AWS region, such as \"eu-west-1\"."`
	Endpoint     string `hcl:"endpoint,optional" default:"AWS's endpoint for the region" doc:"An http:// or https:// endpoint to use instead of AWS's."`
	AccessKey    string `hcl:"access_key,optional" doc:"An access key ID; without it (and secret_key) the SDK's default credential chain is used (environment, shared files, IAM role)."`
	SecretKey    string `hcl:"secret_key,optional" sensitive:"true" doc:"The access key's secret; set with access_key."`
	SessionToken string `hcl:"session_token,optional" sensitive:"true" doc:"A session token for temporary credentials; only with access_key and secret_key."`
	KMSKey       string `hcl:"kms_key,optional" doc:"The AWS KMS key that encrypts the secrets cutover creates (KES's keystore.aws.secretsmanager.kmskey); AWS's default key without it."`
}

// Config is a decoded aws_secretsmanager block: a providers.KeyStoreConfig.
// Without AccessKey and SecretKey the SDK's default credential chain is
// used (environment, shared files, IAM role), as KES does.
type Config struct {
	Name         string // "kms.<label>"
	Region       string
	Endpoint     string // "" for AWS's endpoint
	AccessKey    string
	SecretKey    string // never printed
	SessionToken string // never printed
	KMSKey       string
}

var _ providers.KeyStoreConfig = (*Config)(nil)

// Open loads the SDK configuration (no request is sent) and returns the
// store.
func (c *Config) Open(ctx context.Context) (providers.KeyStore, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.Region)}
	if c.AccessKey != "" || c.SecretKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken)))
	}
	opts = append(opts, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(httpx.Bound)))
	// The SDK logs warnings (retries, checksums) to stderr by default: none
	// of its lines may reach cutover's output unformatted.
	opts = append(opts, awsconfig.WithLogger(logging.Nop{}), awsconfig.WithClientLogMode(0))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: aws config: %w", c.Name, err)
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return NewStore(c.Name, client, c.KMSKey), nil
}

// Describe says where the secrets are, never with a credential.
func (c *Config) Describe() string {
	d := "aws secrets manager in " + c.Region
	if c.Endpoint != "" {
		d += " at " + c.Endpoint
	}
	if c.KMSKey != "" {
		d += ", encrypted with " + c.KMSKey
	}
	if c.AccessKey != "" {
		return d + ", access key " + c.AccessKey
	}
	return d + ", default credentials"
}

// Decode decodes an aws_secretsmanager block. Bad input is reported with
// ranges: an empty region, an endpoint that is not http(s), a secret_key
// without access_key (or the reverse), a session_token without both. The
// secret key and session token are recorded as secrets.
func Decode(name string, body hcl.Body, dc *hcldecode.Context) (any, hcl.Diagnostics) {
	var b Block
	diags := dc.DecodeBody(body, &b)
	if diags.HasErrors() {
		return nil, diags
	}
	if dc.Secrets != nil {
		dc.Secrets.Add(b.SecretKey, b.SessionToken)
	}
	c := &Config{Name: providers.KindKMS + "." + name, Region: b.Region, Endpoint: b.Endpoint,
		AccessKey: b.AccessKey, SecretKey: b.SecretKey, SessionToken: b.SessionToken, KMSKey: b.KMSKey}
	return c, append(diags, check(body, dc, b)...)
}

// check reports the block's semantic errors.
func check(body hcl.Body, dc *hcldecode.Context, b Block) hcl.Diagnostics {
	attrs := attributes(body)
	var diags hcl.Diagnostics
	add := func(a *hcl.Attribute, summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail,
			Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr()})
	}
	if a := attrs["region"]; known(dc, a) && b.Region == "" {
		add(a, "Empty region", "The AWS region, such as \"eu-west-1\", is required: KES's keys live in one region.")
	}
	if a := attrs["endpoint"]; known(dc, a) && !strings.HasPrefix(b.Endpoint, "http://") && !strings.HasPrefix(b.Endpoint, "https://") {
		add(a, "Invalid endpoint", fmt.Sprintf("The endpoint %q must be an http:// or https:// URL.", b.Endpoint))
	}
	pairs := []struct{ set, other, missing string }{
		{"access_key", "secret_key", "secret_key"}, {"secret_key", "access_key", "access_key"}, {"session_token", "access_key", "access_key and secret_key"},
	}
	for _, p := range pairs {
		if a := attrs[p.set]; a != nil && attrs[p.other] == nil {
			add(a, "Incomplete credentials", fmt.Sprintf("%s is set but %s is not: static credentials need both an access key and a secret key.", p.set, p.missing))
		}
	}
	return diags
}

// attributes returns the attributes of body, decoded leniently
// (DecodeBody already reported structural errors).
func attributes(body hcl.Body) hcl.Attributes {
	schema := &hcl.BodySchema{}
	for _, n := range []string{"region", "endpoint", "access_key", "secret_key", "session_token"} {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: n})
	}
	content, _, _ := body.PartialContent(schema)
	if content == nil {
		return nil
	}
	return content.Attributes
}

// known reports whether a is set to a known value (not an input `cutover
// validate` does not have).
func known(dc *hcldecode.Context, a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(dc.Eval)
	return !diags.HasErrors() && v.IsWhollyKnown()
}
