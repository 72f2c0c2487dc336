// Package awskms is AWS KMS as a key store for imported key material,
// declared in a plan as
//
//	kms "aws" {
//	  type          = "aws_kms"
//	  region        = "eu-west-1"
//	  endpoint      = "https://kms.eu-west-1.amazonaws.com"  # optional
//	  access_key    = var.aws_access_key                     # optional: the SDK's default chain otherwise
//	  secret_key    = var.aws_secret_key
//	  session_token = var.aws_session_token                  # optional
//	  alias_prefix  = "cutover/"                             # optional, default ""
//	}
//
// A key name N is the alias "alias/<alias_prefix>N". Create makes a
// symmetric KMS key of origin EXTERNAL, imports the material into it
// (wrapped with RSAES_OAEP_SHA_256 under an RSA_2048 wrapping key, never
// expiring) and only then creates the alias: the alias is the atomic point,
// so of concurrent Creates of one name exactly one wins, and each loser
// schedules the deletion of the key it made (after 7 days, the minimum)
// and returns providers.ErrKeyExists.
//
// AWS KMS never reveals key material: Get returns providers.ErrNotReadable
// for a key that exists, and Prove (like RoundTrip for any key) is an
// Encrypt/Decrypt round trip. AWS never deletes a key immediately: Delete
// removes the alias at once and schedules the key's deletion 7 days later
// (the key can be recovered with CancelKeyDeletion until then).
//
// The credentials need kms:CreateKey, kms:TagResource,
// kms:GetParametersForImport, kms:ImportKeyMaterial, kms:CreateAlias,
// kms:DescribeKey, kms:ListAliases, kms:DeleteAlias,
// kms:ScheduleKeyDeletion, kms:Encrypt, kms:Decrypt, and for Describe and
// the Rotator kms:ListResourceTags, kms:GetKeyRotationStatus,
// kms:EnableKeyRotation and kms:DisableKeyRotation.
//
// Errors are *Error values that errors.Is matches against the providers
// sentinels (ErrKeyNotFound, ErrKeyExists, ErrUnsupported) and this
// package's (ErrKeyUnusable, ErrAccessDenied, ErrProof, ErrInvalidName),
// and errors.As against the SDK's typed errors.
package awskms

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/logging"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers"
)

// Type is the `type` of a kms block served by this package.
const Type = "aws_kms"

// aliasChars are the characters AWS allows in alias names.
var aliasChars = regexp.MustCompile(`^[a-zA-Z0-9:/_-]*$`)

// Config is what a `kms "<name>" { type = "aws_kms" ... }` block decodes
// to; it is a providers.KeyStoreConfig. Secret fields are never printed.
type Config struct {
	// Name is the plan's name for the store ("kms.aws").
	Name string
	// Region is the AWS region; empty means the SDK's default (AWS_REGION,
	// shared config).
	Region string
	// Endpoint overrides the KMS endpoint (a VPC endpoint, an emulator).
	Endpoint string
	// AccessKey, SecretKey and SessionToken are static credentials;
	// secret. Empty means the SDK's default credential chain.
	AccessKey, SecretKey, SessionToken string
	// AliasPrefix is put between "alias/" and every key name.
	AliasPrefix string
}

// Describe is a one-line, secret-free description of the store.
func (c *Config) Describe() string {
	s := "aws kms"
	if c.Region != "" {
		s += " in " + c.Region
	}
	if c.Endpoint != "" {
		s += " at " + c.Endpoint
	}
	return s + " (aliases alias/" + c.AliasPrefix + "*)"
}

// KeyName maps what an application names a key by to the key name cutover
// created it under (providers.KeyNamer): "alias/<prefix><name>" or that
// alias's ARN gives <name>; a key ID, a key ARN or another alias gives
// ok false.
func (c *Config) KeyName(ref string) (string, bool) {
	if strings.HasPrefix(ref, "arn:") {
		_, alias, found := strings.Cut(ref, ":alias/")
		if !found {
			return "", false
		}
		ref = "alias/" + alias
	}
	name, ok := strings.CutPrefix(ref, "alias/"+c.AliasPrefix)
	return name, ok && name != ""
}

// Open returns the store. It loads the SDK configuration (environment and
// shared files for what the block leaves out) and resolves the credentials
// (see New), but sends no request to KMS: call Status to check the
// credentials work.
func (c *Config) Open(ctx context.Context) (providers.KeyStore, error) {
	return New(ctx, *c)
}

// New is Open with the concrete type, for callers that need Store's
// methods beyond providers.KeyStore. Region and credentials the block
// leaves out come from the SDK's default chain (config.LoadDefaultConfig:
// environment, shared config and credentials files, SSO, web identity,
// container and EC2 instance roles); without an endpoint the client talks
// to AWS itself. A missing region or credentials fail here, before any
// request to KMS, with an error matching ErrNoRegion or ErrNoCredentials
// (both when both are missing). Resolving credentials may ask the EC2
// instance metadata service, as the SDK does before any first request,
// unless AWS_EC2_METADATA_DISABLED=true.
func New(ctx context.Context, c Config) (*Store, error) {
	if err := checkPrefix(c.AliasPrefix); err != nil {
		return nil, err
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return nil, errors.New("aws kms: set both access_key and secret_key, or neither")
	}
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return &Store{name: c.Name, prefix: c.AliasPrefix, kms: client}, nil
}

// awsConfig loads the SDK configuration with the block's overrides and
// checks that it has a region and credentials.
func (c *Config) awsConfig(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.AccessKey != "" {
		creds := credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken)
		opts = append(opts, config.WithCredentialsProvider(creds))
	}
	opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(httpx.Bound)))
	// The SDK logs warnings (retries, checksums) to stderr by default: none
	// of its lines may reach cutover's output unformatted.
	opts = append(opts, config.WithLogger(logging.Nop{}), config.WithClientLogMode(0))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s: load the AWS configuration: %w", c.label(), err)
	}
	var missing []error
	if cfg.Region == "" {
		missing = append(missing, fmt.Errorf("%w: set region in the kms block, or AWS_REGION or a region in the AWS profile", ErrNoRegion))
	}
	if err := resolveCredentials(ctx, cfg); err != nil {
		missing = append(missing, err)
	}
	switch len(missing) {
	case 1:
		return aws.Config{}, fmt.Errorf("%s: %w", c.label(), missing[0])
	case 2:
		return aws.Config{}, fmt.Errorf("%s: %w; %w", c.label(), missing[0], missing[1])
	}
	return cfg, nil
}

// label names the store in errors: "kms.aws (aws kms)".
func (c *Config) label() string {
	if c.Name == "" {
		return "aws kms"
	}
	return c.Name + " (aws kms)"
}

// resolveCredentials resolves the configuration's credentials (a local
// lookup for static and environment credentials; the SDK caches the
// result for the client's requests).
func resolveCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials == nil {
		return fmt.Errorf("%w: %s", ErrNoCredentials, credentialsHint)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fmt.Errorf("%w: %s (the SDK's default chain: %v)", ErrNoCredentials, credentialsHint, err)
	}
	return nil
}

// credentialsHint says where credentials can come from.
const credentialsHint = "set access_key and secret_key in the kms block, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
	"AWS_PROFILE with a shared credentials file, SSO, web identity, or an instance or container role"

// checkPrefix validates an alias prefix.
func checkPrefix(p string) error {
	switch {
	case !aliasChars.MatchString(p):
		return fmt.Errorf("aws kms: alias prefix %q: use only letters, digits and : / _ -", p)
	case strings.HasPrefix(p, "aws/"):
		return fmt.Errorf("aws kms: alias prefix %q: alias/aws/ is reserved for AWS managed keys", p)
	}
	return nil
}
