package awskms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cutover/cutover/providers"
)

// DeletionWindowDays is how long AWS keeps a key scheduled for deletion:
// the minimum AWS allows.
const DeletionWindowDays = 7

// cleanupTimeout bounds the deletion of an orphan key, which runs even
// when the caller's context is done.
const cleanupTimeout = 30 * time.Second

// Tag keys every key Create makes carries.
const (
	TagCreatedBy = "cutover:created-by" // always "cutover"
	TagName      = "cutover:name"       // the key name
	TagStore     = "cutover:store"      // the plan's name for the store
	TagSource    = "cutover:source"     // CreateOptions.Source, when set
)

// CreateOptions describe a key beyond its material.
type CreateOptions struct {
	// Source names where the material comes from ("kms.local"): it goes
	// into the description and the cutover:source tag.
	Source string
	// Description replaces the default description.
	Description string
	// Tags are added to the cutover: tags.
	Tags map[string]string
}

// Creator creates keys with a description and tags.
type Creator interface {
	// CreateWith is Create with options. Errors: providers.ErrKeyExists
	// when the alias exists (checked first, and again atomically by
	// CreateAlias); ErrInvalidName; providers.ErrUnsupported for material
	// that is not a 32-byte AES-256 key; an *Error for a failed call.
	CreateWith(ctx context.Context, name string, k providers.Key, opts CreateOptions) error
}

// CreateWith makes a KMS key of origin EXTERNAL, imports k into it and
// points the alias at it. If any step after CreateKey fails (a lost race
// for the alias included), the new key is scheduled for deletion and the
// error returned; should that deletion fail too, both errors are joined
// and the orphan key's id is in the message.
func (s *Store) CreateWith(ctx context.Context, name string, k providers.Key, opts CreateOptions) error {
	if err := s.checkName(name); err != nil {
		return err
	}
	if err := checkMaterial(k); err != nil {
		return err
	}
	alias := s.Alias(name)
	if _, err := s.describeRef(ctx, alias); err == nil {
		return fmt.Errorf("aws kms %s: %w", alias, providers.ErrKeyExists)
	} else if !errors.Is(err, providers.ErrKeyNotFound) {
		return err
	}
	keyID, err := s.createKey(ctx, name, opts)
	if err != nil {
		return err
	}
	if err := s.importAndAlias(ctx, keyID, alias, k.Material); err != nil {
		return errors.Join(err, s.discard(ctx, keyID))
	}
	return nil
}

// checkMaterial accepts 32-byte AES-256 keys, the only symmetric material
// AWS KMS imports.
func checkMaterial(k providers.Key) error {
	if k.Algorithm != "" && k.Algorithm != "AES256" {
		return fmt.Errorf("aws kms imports AES-256 keys only, not %s: %w", k.Algorithm, providers.ErrUnsupported)
	}
	if len(k.Material) != 32 {
		return fmt.Errorf("aws kms: key material is %d bytes, want 32", len(k.Material))
	}
	return nil
}

// createKey makes the empty EXTERNAL key and returns its id.
func (s *Store) createKey(ctx context.Context, name string, opts CreateOptions) (string, error) {
	out, err := s.kms.CreateKey(ctx, &kms.CreateKeyInput{
		Origin:      types.OriginTypeExternal,
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
		Description: aws.String(s.description(name, opts)),
		Tags:        s.tags(name, opts),
	})
	if err != nil {
		return "", wrap("CreateKey", s.Alias(name), err)
	}
	return aws.ToString(out.KeyMetadata.KeyId), nil
}

// description is the key's description.
func (s *Store) description(name string, opts CreateOptions) string {
	if opts.Description != "" {
		return opts.Description
	}
	d := "cutover: key " + name + " imported"
	if opts.Source != "" {
		d += " from " + opts.Source
	}
	return d
}

// tags are the cutover tags and opts.Tags, sorted by key.
func (s *Store) tags(name string, opts CreateOptions) []types.Tag {
	m := map[string]string{TagCreatedBy: "cutover", TagName: name}
	if s.name != "" {
		m[TagStore] = s.name
	}
	if opts.Source != "" {
		m[TagSource] = opts.Source
	}
	maps.Copy(m, opts.Tags)
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{TagKey: aws.String(k), TagValue: aws.String(m[k])})
	}
	return out
}

// importAndAlias imports material into keyID, then creates the alias.
func (s *Store) importAndAlias(ctx context.Context, keyID, alias string, material []byte) error {
	if err := s.importMaterial(ctx, keyID, material); err != nil {
		return err
	}
	_, err := s.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyID)})
	return wrap("CreateAlias", alias, err)
}

// importMaterial wraps material with a fresh wrapping key of keyID and
// imports it, never to expire.
func (s *Store) importMaterial(ctx context.Context, keyID string, material []byte) error {
	params, err := s.kms.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId:             aws.String(keyID),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256,
		WrappingKeySpec:   types.WrappingKeySpecRsa2048,
	})
	if err != nil {
		return wrap("GetParametersForImport", keyID, err)
	}
	wrapped, err := wrapMaterial(params.PublicKey, material)
	if err != nil {
		return fmt.Errorf("aws kms: wrap key material for %s: %w", keyID, err)
	}
	_, err = s.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{
		KeyId:                aws.String(keyID),
		ImportToken:          params.ImportToken,
		EncryptedKeyMaterial: wrapped,
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire,
	})
	return wrap("ImportKeyMaterial", keyID, err)
}

// wrapMaterial encrypts material with RSAES-OAEP SHA-256 under the DER
// public key AWS gave.
func wrapMaterial(publicKey, material []byte) ([]byte, error) {
	pub, err := x509.ParsePKIXPublicKey(publicKey)
	if err != nil {
		return nil, err
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("wrapping key is a %T, want RSA", pub)
	}
	return rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, material, nil)
}

// discard schedules the deletion of a key Create made but could not
// finish, even if ctx is done.
func (s *Store) discard(ctx context.Context, keyID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := s.scheduleDeletion(ctx, keyID)
	if err != nil {
		return fmt.Errorf("the unfinished key %s was not scheduled for deletion: %w", keyID, err)
	}
	return nil
}

// scheduleDeletion schedules keyID's deletion after DeletionWindowDays.
func (s *Store) scheduleDeletion(ctx context.Context, keyID string) error {
	_, err := s.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
		KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(DeletionWindowDays)})
	return wrap("ScheduleKeyDeletion", keyID, err)
}
