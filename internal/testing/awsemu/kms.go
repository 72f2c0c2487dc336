package awsemu

import (
	"strconv"
	"strings"
	"time"
)

// Key states.
const (
	keyEnabled         = "Enabled"
	keyDisabled        = "Disabled"
	keyPendingImport   = "PendingImport"
	keyPendingDeletion = "PendingDeletion"
)

// KMS error codes.
const (
	codeNotFound     = "NotFoundException"
	codeInvalidState = "KMSInvalidStateException"
	codeDisabled     = "DisabledException"
	codeUnsupported  = "UnsupportedOperationException"
)

var kmsService = &service{
	signingName:  "kms",
	targetPrefix: "TrentService",
	messageField: "message",
	ops: map[string]opSpec{
		"CreateKey":              handle((*Emulator).createKey),
		"DescribeKey":            handle((*Emulator).describeKey),
		"ListKeys":               handle((*Emulator).listKeys),
		"EnableKey":              handle((*Emulator).enableKey),
		"DisableKey":             handle((*Emulator).disableKey),
		"GetKeyRotationStatus":   handle((*Emulator).getKeyRotationStatus),
		"EnableKeyRotation":      handle((*Emulator).enableKeyRotation),
		"DisableKeyRotation":     handle((*Emulator).disableKeyRotation),
		"ScheduleKeyDeletion":    handle((*Emulator).scheduleKeyDeletion),
		"CancelKeyDeletion":      handle((*Emulator).cancelKeyDeletion),
		"CreateAlias":            handle((*Emulator).createAlias),
		"ListAliases":            handle((*Emulator).listAliases),
		"DeleteAlias":            handle((*Emulator).deleteAlias),
		"TagResource":            handle((*Emulator).tagResource),
		"UntagResource":          handle((*Emulator).untagResource),
		"ListResourceTags":       handle((*Emulator).listResourceTags),
		"Encrypt":                handle((*Emulator).encrypt),
		"Decrypt":                handle((*Emulator).decrypt),
		"GenerateDataKey":        handle((*Emulator).generateDataKey),
		"GetParametersForImport": handleUnlocked((*Emulator).getParametersForImport),
		"ImportKeyMaterial":      handle((*Emulator).importKeyMaterial),
	},
}

// epochTime marshals as AWS JSON timestamps do: seconds since the epoch,
// millisecond precision.
type epochTime time.Time

// MarshalJSON implements json.Marshaler.
func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// epochPtr converts an optional time.
func epochPtr(t *time.Time) *epochTime {
	if t == nil {
		return nil
	}
	e := epochTime(*t)
	return &e
}

// fromEpoch converts an input timestamp (epoch seconds).
func fromEpoch(f float64) time.Time {
	return time.UnixMilli(int64(f * 1000)).UTC()
}

// keyARN is the ARN of the key with id.
func (e *Emulator) keyARN(id string) string { return e.arn("kms", "key/"+id) }

// aliasARN is the ARN of the alias named name ("alias/...").
func (e *Emulator) aliasARN(name string) string { return e.arn("kms", name) }

// resolveKey finds the key a KeyId member names: a key id, a key ARN and,
// when allowAlias, an alias name or alias ARN.
func (e *Emulator) resolveKey(id string, allowAlias bool) (*kmsKey, error) {
	resource := id
	if strings.HasPrefix(id, "arn:") {
		r, ok := strings.CutPrefix(id, e.ownARNPrefix("kms"))
		if !ok {
			return nil, errf(codeNotFound, "Invalid arn %s", id)
		}
		resource = r
	}
	if strings.HasPrefix(resource, "alias/") {
		if !allowAlias {
			return nil, errf(codeNotFound, "Invalid keyId %s", id)
		}
		return e.keyByAlias(resource)
	}
	if r, ok := strings.CutPrefix(resource, "key/"); ok && resource != id {
		resource = r
	} else if resource != id {
		return nil, errf(codeNotFound, "Invalid arn %s", id)
	}
	if !uuidPattern.MatchString(resource) {
		return nil, errf(codeNotFound, "Invalid keyId %s", id)
	}
	k, ok := e.st.Keys[resource]
	if !ok {
		return nil, errf(codeNotFound, "Key '%s' does not exist", e.keyARN(resource))
	}
	return k, nil
}

func (e *Emulator) keyByAlias(name string) (*kmsKey, error) {
	a, ok := e.st.Aliases[name]
	if !ok {
		return nil, errf(codeNotFound, "Alias %s is not found.", e.aliasARN(name))
	}
	return e.st.Keys[a.KeyID], nil
}

// requireUsable refuses cryptographic use of a key that is not Enabled.
func (e *Emulator) requireUsable(k *kmsKey) error {
	switch k.State {
	case keyEnabled:
		return nil
	case keyDisabled:
		return errf(codeDisabled, "%s is disabled.", e.keyARN(k.ID))
	}
	return e.invalidState(k)
}

// invalidState is the KMSInvalidStateException for k's current state.
func (e *Emulator) invalidState(k *kmsKey) error {
	switch k.State {
	case keyPendingDeletion:
		return errf(codeInvalidState, "%s is pending deletion.", e.keyARN(k.ID))
	case keyPendingImport:
		return errf(codeInvalidState, "%s is pending import.", e.keyARN(k.ID))
	}
	return errf(codeInvalidState, "%s is %s.", e.keyARN(k.ID), strings.ToLower(k.State))
}

// requireNotPendingDeletion refuses changes to a key pending deletion.
func (e *Emulator) requireNotPendingDeletion(k *kmsKey) error {
	if k.State == keyPendingDeletion {
		return e.invalidState(k)
	}
	return nil
}

// requireOrigin refuses an operation that does not apply to k's origin.
func (e *Emulator) requireOrigin(k *kmsKey, origin string) error {
	if k.Origin != origin {
		return errf(codeUnsupported, "%s origin is %s which is not valid for this operation.", e.keyARN(k.ID), k.Origin)
	}
	return nil
}

// keyMetadata is the KeyMetadata structure.
type keyMetadata struct {
	AWSAccountId                string     `json:"AWSAccountId"`
	KeyId                       string     `json:"KeyId"`
	Arn                         string     `json:"Arn"`
	CreationDate                epochTime  `json:"CreationDate"`
	Enabled                     bool       `json:"Enabled"`
	Description                 string     `json:"Description"`
	KeyUsage                    string     `json:"KeyUsage"`
	KeyState                    string     `json:"KeyState"`
	DeletionDate                *epochTime `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDays int64      `json:"PendingDeletionWindowInDays,omitempty"`
	ValidTo                     *epochTime `json:"ValidTo,omitempty"`
	Origin                      string     `json:"Origin"`
	ExpirationModel             string     `json:"ExpirationModel,omitempty"`
	KeyManager                  string     `json:"KeyManager"`
	CustomerMasterKeySpec       string     `json:"CustomerMasterKeySpec"`
	KeySpec                     string     `json:"KeySpec"`
	EncryptionAlgorithms        []string   `json:"EncryptionAlgorithms"`
	MultiRegion                 bool       `json:"MultiRegion"`
	CurrentKeyMaterialId        string     `json:"CurrentKeyMaterialId,omitempty"`
}

// metadata renders k as KeyMetadata.
func (e *Emulator) metadata(k *kmsKey) keyMetadata {
	m := keyMetadata{
		AWSAccountId: e.cfg.AccountID, KeyId: k.ID, Arn: e.keyARN(k.ID),
		CreationDate: epochTime(k.Created), Enabled: k.State == keyEnabled,
		Description: k.Description, KeyUsage: "ENCRYPT_DECRYPT", KeyState: k.State,
		DeletionDate: epochPtr(k.DeletionDate), Origin: k.Origin, KeyManager: "CUSTOMER",
		CustomerMasterKeySpec: "SYMMETRIC_DEFAULT", KeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"},
	}
	if k.DeletionDate != nil {
		m.PendingDeletionWindowInDays = k.PendingDays
	}
	if k.Origin == originExternal && k.Material != nil {
		m.ExpirationModel, m.ValidTo = k.ExpirationModel, epochPtr(k.ValidTo)
	}
	if k.Loaded {
		m.CurrentKeyMaterialId = materialID(k.ID, k.Material)
	}
	return m
}
