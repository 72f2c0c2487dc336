// Package awssm is the `aws_secretsmanager` key store: keys kept in AWS
// Secrets Manager exactly as KES v0.24.0's AWS keystore keeps them
// (internal/keystore/aws), so a KES server configured on the same account
// and region uses the keys cutover writes and cutover reads KES's keys.
//
//	kms "aws" {
//	  type          = "aws_secretsmanager"
//	  region        = "eu-west-1"
//	  endpoint      = "https://..."     # optional: another endpoint (an emulator, a VPC endpoint)
//	  access_key    = var.aws_key_id     # optional: static credentials; without them
//	  secret_key    = var.aws_secret     #   the SDK's default chain (env, files, IAM role)
//	  session_token = var.aws_session    # optional
//	  kms_key       = "alias/kes"        # optional: the KMS key that encrypts new secrets
//	}
//
// # Layout
//
// One secret per key: the secret's name is the key's name (no prefix) and
// its SecretString is the keskey encoding. KES reads SecretBinary when there
// is no SecretString; so does Get. kms_key is passed as KmsKeyId when a
// secret is created, as KES does with its kms_key option.
//
// # Semantics
//
//   - Create is CreateSecret: AWS refuses an existing name
//     (ResourceExistsException -> providers.ErrKeyExists), so of two
//     concurrent Creates exactly one succeeds. The SDK's idempotency token
//     makes its own retries safe.
//   - Replace is PutSecretValue: a new version becomes AWSCURRENT in one
//     step, the key is never absent; ErrKeyNotFound if there is no secret.
//     KES reads AWSCURRENT, so it uses the new value once it reads the key
//     again (KES caches keys it has read until it restarts).
//   - Delete is DescribeSecret (absent or already scheduled for deletion ->
//     ErrKeyNotFound) then DeleteSecret with ForceDeleteWithoutRecovery, as
//     KES does: the secret is gone at once and the name can be reused.
//   - List is ListSecrets, following every page, as KES does: every secret
//     of the account and region is a key to KES, whether or not it holds a
//     KES value; use a pattern to keep to the keys. The pattern's literal
//     prefix becomes a "name" filter (a case-sensitive prefix match), the
//     pattern itself is then applied with path.Match.
//   - Status lists one secret: it proves the endpoint, region and
//     credentials.
//
// Errors wrap providers.ErrKeyNotFound and ErrKeyExists, keskey.ErrInvalid
// for a secret that is not a KES key and keskey.ErrInvalidName for names;
// AWS's answers are smithy API errors. No error contains a credential or
// key material.
package awssm

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// pageSize is ListSecrets's maximum page.
const pageSize = 100

// Store is a KES-layout key store in AWS Secrets Manager. It is safe for
// concurrent use.
type Store struct {
	name      string
	kmsKey    string
	client    *secretsmanager.Client
	createdBy string
}

var (
	_ providers.KeyStore = (*Store)(nil)
	_ providers.Replacer = (*Store)(nil)
)

// NewStore returns the store that uses client; kmsKey ("" for AWS's
// default) encrypts the secrets it creates.
func NewStore(name string, client *secretsmanager.Client, kmsKey string) *Store {
	return &Store{name: name, kmsKey: kmsKey, client: client, createdBy: keskey.DefaultCreatedBy}
}

// Name returns the plan's name for the store.
func (s *Store) Name() string { return s.name }

// Status lists at most one secret.
func (s *Store) Status(ctx context.Context) error {
	start := time.Now()
	_, err := s.client.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)})
	if err != nil {
		o := s.client.Options()
		endpoint := "aws secrets manager region " + o.Region
		if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			endpoint = "aws secrets manager " + *o.BaseEndpoint
		}
		return fmt.Errorf("%s: aws secrets manager: %w", s.name, httpx.Endpoint(endpoint, s.name, "ListSecrets", start, err))
	}
	return nil
}

// List yields the names of the secrets matching pattern, page by page.
func (s *Store) List(ctx context.Context, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		match, err := keskey.Matcher(pattern)
		if err != nil {
			yield("", err)
			return
		}
		p := secretsmanager.NewListSecretsPaginator(s.client, listInput(pattern))
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield("", fmt.Errorf("%s: aws list secrets: %w", s.name, err))
				return
			}
			if !yieldPage(page.SecretList, match, yield) {
				return
			}
		}
	}
}

// yieldPage yields the matching names of one page; false when the
// consumer stopped.
func yieldPage(secrets []types.SecretListEntry, match func(string) bool, yield func(string, error) bool) bool {
	for _, e := range secrets {
		if name := aws.ToString(e.Name); match(name) && !yield(name, nil) {
			return false
		}
	}
	return true
}

// filterValue is what AWS accepts as a filter value (a leading '!'
// negates, so it is not used).
var filterValue = regexp.MustCompile(`^[a-zA-Z0-9 :_@/+=.\-]{1,512}$`)

// listInput filters by the pattern's literal prefix when AWS accepts it.
func listInput(pattern string) *secretsmanager.ListSecretsInput {
	in := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(pageSize)}
	if prefix := keskey.LiteralPrefix(pattern); filterValue.MatchString(prefix) {
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}}
	}
	return in
}

// Get reads the secret's current value and decodes it.
func (s *Store) Get(ctx context.Context, name string) (providers.Key, error) {
	if err := checkName(name); err != nil {
		return providers.Key{}, s.keyErr(name, err)
	}
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return providers.Key{}, s.keyErr(name, mapErr(err))
	}
	value := out.SecretBinary
	if out.SecretString != nil {
		value = []byte(*out.SecretString)
	}
	k, err := keskey.Decode(value)
	if err != nil {
		return providers.Key{}, s.keyErr(name, err)
	}
	return k, nil
}

// Create creates the secret; ErrKeyExists if the name is taken.
func (s *Store) Create(ctx context.Context, name string, k providers.Key) error {
	if err := keskey.ValidName(name); err != nil {
		return s.keyErr(name, err)
	}
	value, err := s.encode(name, k)
	if err != nil {
		return err
	}
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	if s.kmsKey != "" {
		in.KmsKeyId = aws.String(s.kmsKey)
	}
	if _, err := s.client.CreateSecret(ctx, in); err != nil {
		return s.keyErr(name, mapErr(err))
	}
	return nil
}

// Replace makes a new value the secret's current version, atomically;
// ErrKeyNotFound if there is no secret of that name.
func (s *Store) Replace(ctx context.Context, name string, k providers.Key) error {
	if err := checkName(name); err != nil {
		return s.keyErr(name, err)
	}
	value, err := s.encode(name, k)
	if err != nil {
		return err
	}
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}
	if _, err := s.client.PutSecretValue(ctx, in); err != nil {
		return s.keyErr(name, mapErr(err))
	}
	return nil
}

// Delete deletes the secret without a recovery window; ErrKeyNotFound if
// absent or already scheduled for deletion (which it leaves alone).
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return s.keyErr(name, err)
	}
	d, err := s.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return s.keyErr(name, mapErr(err))
	}
	if d.DeletedDate != nil {
		return s.keyErr(name, fmt.Errorf("%w (scheduled for deletion)", providers.ErrKeyNotFound))
	}
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)}
	if _, err := s.client.DeleteSecret(ctx, in); err != nil {
		return s.keyErr(name, mapErr(err))
	}
	return nil
}

// encode encodes k as the secret string.
func (s *Store) encode(name string, k providers.Key) (string, error) {
	b, err := keskey.Encode(k, s.createdBy, time.Now().UTC())
	if err != nil {
		return "", s.keyErr(name, err)
	}
	return string(b), nil
}

// mapErr maps AWS's errors onto providers' sentinels, keeping AWS's error.
func mapErr(err error) error {
	var exists *types.ResourceExistsException
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &exists):
		return fmt.Errorf("%w: %w", providers.ErrKeyExists, err)
	case errors.As(err, &missing):
		return fmt.Errorf("%w: %w", providers.ErrKeyNotFound, err)
	}
	return err
}

// secretName is what AWS accepts as a secret name.
var secretName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// checkName refuses names AWS would not take as a secret name (an ARN
// among them).
func checkName(name string) error {
	if !secretName.MatchString(name) {
		return fmt.Errorf("%w %q: not a Secrets Manager secret name", keskey.ErrInvalidName, name)
	}
	return nil
}

// keyErr adds the store and key name to err.
func (s *Store) keyErr(name string, err error) error {
	return fmt.Errorf("%s: key %q: %w", s.name, name, err)
}
