package awskms

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// aliasPageSize is the most aliases ListAliases returns per page.
const aliasPageSize = 100

// maxAliasLen is the longest alias name AWS accepts.
const maxAliasLen = 256

// Store is AWS KMS as a providers.KeyStore and providers.Prover, with the
// extra operations of Creator, Describer, Rotator and KeyChecker. It is
// safe for concurrent use. It is not a providers.Replacer: imported
// material cannot be changed, and moving an alias to a new key is atomic
// but leaves data encrypted under the old key undecryptable by name.
type Store struct {
	name   string
	prefix string
	kms    *kms.Client
}

var (
	_ providers.KeyStore = (*Store)(nil)
	_ providers.Prover   = (*Store)(nil)
	_ Creator            = (*Store)(nil)
	_ Describer          = (*Store)(nil)
	_ Rotator            = (*Store)(nil)
	_ KeyChecker         = (*Store)(nil)
)

// Name is the plan's name for the store.
func (s *Store) Name() string { return s.name }

// Sealed marks the store as one that never reveals key material
// (providers.Sealed).
func (s *Store) Sealed() {}

// Holds reports whether AWS KMS can import a key of algorithm: AES-256 only
// (providers.AlgorithmLimiter).
func (s *Store) Holds(algorithm string) bool { return algorithm == "" || algorithm == "AES256" }

// Client returns the SDK client the store uses.
func (s *Store) Client() *kms.Client { return s.kms }

// Alias returns the alias name ("alias/<prefix><name>") of a key name.
func (s *Store) Alias(name string) string { return "alias/" + s.prefix + name }

// Status lists one alias: it checks the endpoint answers and the
// credentials are accepted (ErrAccessDenied otherwise).
func (s *Store) Status(ctx context.Context) error {
	start := time.Now()
	_, err := s.kms.ListAliases(ctx, &kms.ListAliasesInput{Limit: aws.Int32(1)})
	o := s.kms.Options()
	return httpx.Endpoint("aws kms "+awsEndpoint(o.BaseEndpoint, o.Region), s.name, "ListAliases", start, wrap("ListAliases", "", err))
}

// awsEndpoint names the endpoint a client talks to: its base endpoint if
// the plan sets one, else the region.
func awsEndpoint(base *string, region string) string {
	if base != nil && *base != "" {
		return *base
	}
	return "region " + region
}

// List yields the names of the aliases under the prefix that match
// pattern (a path.Match glob; "" or "*" is everything), following every
// ListAliases page. With an empty prefix, AWS managed aliases (alias/aws/)
// are left out. A malformed pattern or a failed call is yielded as an
// error and ends the sequence.
func (s *Store) List(ctx context.Context, pattern string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		match, err := keskey.Matcher(pattern)
		if err != nil {
			yield("", err)
			return
		}
		pages := kms.NewListAliasesPaginator(s.kms, &kms.ListAliasesInput{Limit: aws.Int32(aliasPageSize)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield("", wrap("ListAliases", "", err))
				return
			}
			for _, a := range page.Aliases {
				if name, ok := s.nameOf(a); ok && match(name) && !yield(name, nil) {
					return
				}
			}
		}
	}
}

// nameOf returns the key name an alias stands for, if it is one of ours.
func (s *Store) nameOf(a types.AliasListEntry) (string, bool) {
	name, ok := strings.CutPrefix(aws.ToString(a.AliasName), "alias/"+s.prefix)
	if !ok || name == "" || a.TargetKeyId == nil || (s.prefix == "" && strings.HasPrefix(name, "aws/")) {
		return "", false
	}
	return name, true
}

// Get never returns material: providers.ErrNotReadable when the alias
// exists, providers.ErrKeyNotFound when it does not.
func (s *Store) Get(ctx context.Context, name string) (providers.Key, error) {
	if _, err := s.metadata(ctx, name); err != nil {
		return providers.Key{}, err
	}
	return providers.Key{}, fmt.Errorf("aws kms %s: %w", s.Alias(name), providers.ErrNotReadable)
}

// Create imports k under name with the default description and tags;
// see CreateWith.
func (s *Store) Create(ctx context.Context, name string, k providers.Key) error {
	return s.CreateWith(ctx, name, k, CreateOptions{})
}

// Prove is RoundTrip on the key's alias; providers.ErrKeyNotFound if the
// alias does not exist.
func (s *Store) Prove(ctx context.Context, name string) error {
	if err := s.existingName(name); err != nil {
		return err
	}
	return s.RoundTrip(ctx, s.Alias(name))
}

// checkName reports (wrapping ErrInvalidName) whether name can follow the
// prefix in an alias.
func (s *Store) checkName(name string) error {
	alias := s.Alias(name)
	switch {
	case name == "" || !aliasChars.MatchString(name):
		return fmt.Errorf("%w %q: use only letters, digits and : / _ -", ErrInvalidName, name)
	case len(alias) > maxAliasLen:
		return fmt.Errorf("%w %q: the alias would be longer than %d characters", ErrInvalidName, name, maxAliasLen)
	case strings.HasPrefix(alias, "alias/aws/"):
		return fmt.Errorf("%w %q: alias/aws/ is reserved for AWS managed keys", ErrInvalidName, name)
	}
	return nil
}

// existingName returns providers.ErrKeyNotFound for a name no alias of
// the store can have.
func (s *Store) existingName(name string) error {
	if err := s.checkName(name); err != nil {
		return fmt.Errorf("%w: %w", providers.ErrKeyNotFound, err)
	}
	return nil
}

// metadata describes the key behind name's alias.
func (s *Store) metadata(ctx context.Context, name string) (*types.KeyMetadata, error) {
	if err := s.existingName(name); err != nil {
		return nil, err
	}
	return s.describeRef(ctx, s.Alias(name))
}

// describeRef describes the key a key id, ARN, alias or alias ARN names.
func (s *Store) describeRef(ctx context.Context, ref string) (*types.KeyMetadata, error) {
	out, err := s.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
	if err != nil {
		return nil, wrap("DescribeKey", ref, err)
	}
	return out.KeyMetadata, nil
}
