package awskms

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cutover/cutover/providers"
)

// Describer tells what AWS knows about a key of the store.
type Describer interface {
	// Describe returns the key behind name's alias: providers.ErrKeyNotFound
	// if the alias does not exist, an *Error if a call fails.
	Describe(ctx context.Context, name string) (KeyInfo, error)
}

// Rotator freezes and restores automatic rotation (the seeds: disable it
// for the migration, re-enable it after).
type Rotator interface {
	// SetRotation enables (with AWS's default period) or disables
	// automatic rotation of the key behind name's alias. Errors:
	// providers.ErrKeyNotFound; providers.ErrUnsupported for keys that
	// cannot rotate automatically (imported, EXTERNAL keys, such as the
	// ones Create makes); ErrKeyUnusable for a key that is not Enabled.
	SetRotation(ctx context.Context, name string, enabled bool) error
	// EnableRotation enables automatic rotation every periodDays (90 to
	// 2560; 0 means AWS's default, 365), to restore what Describe saw.
	EnableRotation(ctx context.Context, name string, periodDays int32) error
}

// KeyChecker proves a key works with the store's credentials.
type KeyChecker interface {
	// RoundTrip checks that keyRef (a key id, key ARN, alias name or alias
	// ARN, not limited to the store's prefix) exists, is an Enabled
	// symmetric encryption key, and that Encrypt then Decrypt gives back a
	// random plaintext. Errors: providers.ErrKeyNotFound, ErrKeyUnusable,
	// providers.ErrUnsupported (not a symmetric encryption key),
	// ErrAccessDenied, ErrProof.
	RoundTrip(ctx context.Context, keyRef string) error
}

// KeyInfo is what Describe reports.
type KeyInfo struct {
	ARN, KeyID  string
	Enabled     bool
	State       string // Enabled, Disabled, PendingDeletion, PendingImport, ...
	Origin      string // AWS_KMS or EXTERNAL (imported), ...
	Description string
	CreatedAt   time.Time
	// RotationEnabled and RotationPeriodDays are the automatic rotation
	// settings; always off for keys that cannot rotate (EXTERNAL).
	RotationEnabled    bool
	RotationPeriodDays int32
	Aliases            []string          // every alias of the key, "alias/..."
	Tags               map[string]string // the key's tags
}

// Delete deletes the alias, then schedules the key's deletion after
// DeletionWindowDays (AWS never deletes a key at once). A key that other
// aliases still point to is kept. Errors: providers.ErrKeyNotFound if the
// alias does not exist; an *Error for a failed call (the alias may be
// gone already: the message says what remains).
func (s *Store) Delete(ctx context.Context, name string) error {
	md, err := s.metadata(ctx, name)
	if err != nil {
		return err
	}
	alias, keyID := s.Alias(name), aws.ToString(md.KeyId)
	if _, err := s.kms.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(alias)}); err != nil {
		return wrap("DeleteAlias", alias, err)
	}
	others, err := s.aliasesOf(ctx, keyID)
	switch {
	case err != nil:
		return fmt.Errorf("alias %s deleted; key %s kept: %w", alias, keyID, err)
	case len(others) > 0 || md.KeyState == types.KeyStatePendingDeletion:
		return nil
	}
	if err := s.scheduleDeletion(ctx, keyID); err != nil {
		return fmt.Errorf("alias %s deleted; key %s kept: %w", alias, keyID, err)
	}
	return nil
}

// Describe implements Describer.
func (s *Store) Describe(ctx context.Context, name string) (KeyInfo, error) {
	md, err := s.metadata(ctx, name)
	if err != nil {
		return KeyInfo{}, err
	}
	info := keyInfo(md)
	if info.RotationEnabled, info.RotationPeriodDays, err = s.rotation(ctx, md); err != nil {
		return KeyInfo{}, err
	}
	if info.Aliases, err = s.aliasesOf(ctx, info.KeyID); err != nil {
		return KeyInfo{}, err
	}
	info.Tags, err = s.tagsOf(ctx, info.KeyID)
	return info, err
}

// keyInfo copies the metadata fields.
func keyInfo(md *types.KeyMetadata) KeyInfo {
	return KeyInfo{ARN: aws.ToString(md.Arn), KeyID: aws.ToString(md.KeyId), Enabled: md.Enabled,
		State: string(md.KeyState), Origin: string(md.Origin), Description: aws.ToString(md.Description),
		CreatedAt: aws.ToTime(md.CreationDate)}
}

// rotation reads the rotation settings of keys that can rotate.
func (s *Store) rotation(ctx context.Context, md *types.KeyMetadata) (bool, int32, error) {
	if md.Origin != types.OriginTypeAwsKms {
		return false, 0, nil
	}
	out, err := s.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil {
		return false, 0, wrap("GetKeyRotationStatus", aws.ToString(md.KeyId), err)
	}
	return out.KeyRotationEnabled, aws.ToInt32(out.RotationPeriodInDays), nil
}

// aliasesOf lists the alias names pointing at keyID, every page.
func (s *Store) aliasesOf(ctx context.Context, keyID string) ([]string, error) {
	var names []string
	pages := kms.NewListAliasesPaginator(s.kms, &kms.ListAliasesInput{KeyId: aws.String(keyID), Limit: aws.Int32(aliasPageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrap("ListAliases", keyID, err)
		}
		for _, a := range page.Aliases {
			names = append(names, aws.ToString(a.AliasName))
		}
	}
	return names, nil
}

// tagsOf reads keyID's tags, every page.
func (s *Store) tagsOf(ctx context.Context, keyID string) (map[string]string, error) {
	tags := map[string]string{}
	pages := kms.NewListResourceTagsPaginator(s.kms, &kms.ListResourceTagsInput{KeyId: aws.String(keyID)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, wrap("ListResourceTags", keyID, err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
		}
	}
	return tags, nil
}

// SetRotation implements Rotator.
func (s *Store) SetRotation(ctx context.Context, name string, enabled bool) error {
	if enabled {
		return s.EnableRotation(ctx, name, 0)
	}
	md, err := s.metadata(ctx, name)
	if err != nil {
		return err
	}
	_, err = s.kms.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: md.KeyId})
	return wrap("DisableKeyRotation", s.Alias(name), err)
}

// EnableRotation implements Rotator.
func (s *Store) EnableRotation(ctx context.Context, name string, periodDays int32) error {
	md, err := s.metadata(ctx, name)
	if err != nil {
		return err
	}
	in := &kms.EnableKeyRotationInput{KeyId: md.KeyId}
	if periodDays > 0 {
		in.RotationPeriodInDays = aws.Int32(periodDays)
	}
	_, err = s.kms.EnableKeyRotation(ctx, in)
	return wrap("EnableKeyRotation", s.Alias(name), err)
}

// roundTripContext is the encryption context of RoundTrip's ciphertext.
var roundTripContext = map[string]string{"cutover": "round-trip"}

// RoundTrip implements KeyChecker.
func (s *Store) RoundTrip(ctx context.Context, keyRef string) error {
	md, err := s.describeRef(ctx, keyRef)
	if err != nil {
		return err
	}
	if err := usable(keyRef, md); err != nil {
		return err
	}
	plaintext := make([]byte, 32)
	_, _ = rand.Read(plaintext)
	enc, err := s.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyRef), Plaintext: plaintext,
		EncryptionContext: roundTripContext})
	if err != nil {
		return wrap("Encrypt", keyRef, err)
	}
	dec, err := s.kms.Decrypt(ctx, &kms.DecryptInput{KeyId: enc.KeyId, CiphertextBlob: enc.CiphertextBlob,
		EncryptionContext: roundTripContext})
	if err != nil {
		return wrap("Decrypt", keyRef, err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) || aws.ToString(dec.KeyId) != aws.ToString(enc.KeyId) {
		return fmt.Errorf("%w: %s decrypted to a different plaintext or key", ErrProof, keyRef)
	}
	return nil
}

// usable refuses keys that cannot do a symmetric round trip now.
func usable(ref string, md *types.KeyMetadata) error {
	switch {
	case md.KeyState != types.KeyStateEnabled:
		return fmt.Errorf("aws kms %s: key %s is %s: %w", ref, aws.ToString(md.KeyId), md.KeyState, ErrKeyUnusable)
	case md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeySpec != types.KeySpecSymmetricDefault:
		return fmt.Errorf("aws kms %s: key %s is %s %s, not a symmetric encryption key: %w",
			ref, aws.ToString(md.KeyId), md.KeySpec, md.KeyUsage, providers.ErrUnsupported)
	}
	return nil
}

// Rotation implements providers.RotationFreezer.
func (s *Store) Rotation(ctx context.Context, name string) (bool, int32, error) {
	info, err := s.Describe(ctx, name)
	if err != nil {
		return false, 0, err
	}
	return info.RotationEnabled, info.RotationPeriodDays, nil
}

// SetRotationPeriod implements providers.RotationFreezer.
func (s *Store) SetRotationPeriod(ctx context.Context, name string, enabled bool, periodDays int32) error {
	if !enabled {
		return s.SetRotation(ctx, name, false)
	}
	return s.EnableRotation(ctx, name, periodDays)
}
