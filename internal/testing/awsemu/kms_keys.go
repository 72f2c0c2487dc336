package awsemu

import (
	"crypto/rand"
	"encoding/json"
	"time"
)

const (
	originAWSKMS   = "AWS_KMS"
	originExternal = "EXTERNAL"
	maxKeyIDLen    = 2048
)

var (
	keySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
		"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"}
	keyUsages = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
	origins   = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
)

type createKeyInput struct {
	Policy                         *string
	Description                    *string
	KeyUsage                       *string
	CustomerMasterKeySpec          *string
	KeySpec                        *string
	Origin                         *string
	CustomKeyStoreId               *string
	BypassPolicyLockoutSafetyCheck *bool
	Tags                           []kmsTag
	MultiRegion                    *bool
	XksKeyId                       *string
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

func (in *createKeyInput) validate() error {
	var v validator
	v.str("policy", in.Policy, 1, 131072)
	v.str("description", in.Description, 0, 8192)
	v.enum("keyUsage", in.KeyUsage, keyUsages...)
	v.enum("keySpec", in.KeySpec, keySpecs...)
	v.enum("customerMasterKeySpec", in.CustomerMasterKeySpec, keySpecs...)
	v.enum("origin", in.Origin, origins...)
	validateKMSTags(&v, in.Tags)
	if err := v.err(); err != nil {
		return err
	}
	if in.KeySpec != nil && in.CustomerMasterKeySpec != nil {
		return errf(codeValidation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.")
	}
	if in.Policy != nil && !json.Valid([]byte(*in.Policy)) {
		return errf("MalformedPolicyDocumentException", "The new key policy is not valid JSON.")
	}
	return in.checkSupported()
}

// checkSupported refuses what AWS accepts but the emulator does not do.
func (in *createKeyInput) checkSupported() error {
	spec := orDefault(in.KeySpec, orDefault(in.CustomerMasterKeySpec, "SYMMETRIC_DEFAULT"))
	usage := orDefault(in.KeyUsage, "ENCRYPT_DECRYPT")
	switch {
	case spec == "SYMMETRIC_DEFAULT" && usage != "ENCRYPT_DECRYPT":
		return errf(codeValidation, "KeyUsage %s is not compatible with KeySpec SYMMETRIC_DEFAULT", usage)
	case spec != "SYMMETRIC_DEFAULT":
		return errf(codeUnsupported, "awsemu: only KeySpec SYMMETRIC_DEFAULT is emulated, not %s", spec)
	case in.CustomKeyStoreId != nil || in.XksKeyId != nil:
		return errf("CustomKeyStoreNotFoundException", "awsemu: custom key stores are not emulated")
	case in.MultiRegion != nil && *in.MultiRegion:
		return errf(codeUnsupported, "awsemu: multi-Region keys are not emulated")
	}
	origin := orDefault(in.Origin, originAWSKMS)
	if origin != originAWSKMS && origin != originExternal {
		return errf(codeUnsupported, "awsemu: origin %s is not emulated", origin)
	}
	return nil
}

func (e *Emulator) createKey(in *createKeyInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := checkTagLimit(nil, in.Tags); err != nil {
		return nil, err
	}
	k := &kmsKey{
		ID: newUUID(), Description: deref(in.Description), Origin: orDefault(in.Origin, originAWSKMS),
		State: keyEnabled, Created: e.now(), Tags: map[string]string{}, Policy: deref(in.Policy),
	}
	if k.Origin == originExternal {
		k.State = keyPendingImport
	} else {
		k.Material = make([]byte, 32)
		_, _ = rand.Read(k.Material)
		k.Loaded = true
	}
	applyKMSTags(k, in.Tags)
	e.st.Keys[k.ID] = k
	e.touch()
	return keyMetadataOutput{e.metadata(k)}, nil
}

// keyIDInput is the input of the operations that take only a KeyId.
type keyIDInput struct {
	KeyId       *string
	GrantTokens []string
}

func (in *keyIDInput) validate() error {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.count("grantTokens", len(in.GrantTokens), 0, 10)
	return v.err()
}

// lookup validates in and resolves its key.
func (e *Emulator) lookup(in *keyIDInput, allowAlias bool) (*kmsKey, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return e.resolveKey(*in.KeyId, allowAlias)
}

func (e *Emulator) describeKey(in *keyIDInput) (any, error) {
	k, err := e.lookup(in, true)
	if err != nil {
		return nil, err
	}
	return keyMetadataOutput{e.metadata(k)}, nil
}

type listInput struct {
	Limit  *int64
	Marker *string
}

// page validates Limit (lo..hi) and Marker and returns one page of l.
func listPage[T any](in *listInput, l listing[T], hi, def int64) ([]T, string, error) {
	var v validator
	v.intRange("limit", in.Limit, 1, hi)
	v.str("marker", in.Marker, 1, 1024)
	if err := v.err(); err != nil {
		return nil, "", err
	}
	items, next, ok := l.page(deref(in.Marker), int(intOr(in.Limit, def)))
	if !ok {
		return nil, "", errf("InvalidMarkerException", "The marker is not valid for this request.")
	}
	return items, next, nil
}

type keyListEntry struct {
	KeyId  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

func (e *Emulator) listKeys(in *listInput) (any, error) {
	entries := make([]keyListEntry, 0, len(e.st.Keys))
	for id := range e.st.Keys {
		entries = append(entries, keyListEntry{KeyId: id, KeyArn: e.keyARN(id)})
	}
	l := sortedListing(entries, func(k keyListEntry) string { return k.KeyId }, false, "ListKeys")
	page, next, err := listPage(in, l, 1000, 100)
	if err != nil {
		return nil, err
	}
	return listKeysOutput{Keys: page, NextMarker: next, Truncated: next != ""}, nil
}

func (e *Emulator) enableKey(in *keyIDInput) (any, error) {
	return e.setEnabled(in, keyEnabled)
}

func (e *Emulator) disableKey(in *keyIDInput) (any, error) {
	return e.setEnabled(in, keyDisabled)
}

// setEnabled moves a key between Enabled and Disabled.
func (e *Emulator) setEnabled(in *keyIDInput, to string) (any, error) {
	k, err := e.lookup(in, false)
	if err != nil {
		return nil, err
	}
	if k.State != keyEnabled && k.State != keyDisabled {
		return nil, e.invalidState(k)
	}
	if k.State != to {
		k.State = to
		e.touch()
	}
	return nil, nil
}

type scheduleKeyDeletionInput struct {
	KeyId               *string
	PendingWindowInDays *int64
}

type scheduleKeyDeletionOutput struct {
	KeyId               string    `json:"KeyId"`
	DeletionDate        epochTime `json:"DeletionDate"`
	KeyState            string    `json:"KeyState"`
	PendingWindowInDays int64     `json:"PendingWindowInDays"`
}

func (e *Emulator) scheduleKeyDeletion(in *scheduleKeyDeletionInput) (any, error) {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.intRange("pendingWindowInDays", in.PendingWindowInDays, 7, 30)
	if err := v.err(); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(*in.KeyId, false)
	if err != nil {
		return nil, err
	}
	if err := e.requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	days := intOr(in.PendingWindowInDays, 30)
	when := e.now().Add(time.Duration(days) * 24 * time.Hour)
	k.State, k.DeletionDate, k.PendingDays = keyPendingDeletion, &when, days
	e.touch()
	return scheduleKeyDeletionOutput{KeyId: e.keyARN(k.ID), DeletionDate: epochTime(when),
		KeyState: k.State, PendingWindowInDays: days}, nil
}

type keyIDOutput struct {
	KeyId string `json:"KeyId"`
}

func (e *Emulator) cancelKeyDeletion(in *keyIDInput) (any, error) {
	k, err := e.lookup(in, false)
	if err != nil {
		return nil, err
	}
	if k.State != keyPendingDeletion {
		return nil, errf(codeInvalidState, "%s is not pending deletion.", e.keyARN(k.ID))
	}
	k.State, k.DeletionDate, k.PendingDays = keyDisabled, nil, 0
	if !k.Loaded {
		k.State = keyPendingImport
	}
	e.touch()
	return keyIDOutput{KeyId: e.keyARN(k.ID)}, nil
}
