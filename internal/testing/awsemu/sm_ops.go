package awsemu

import (
	"slices"
	"time"
)

type createSecretInput struct {
	Name                        *string
	ClientRequestToken          *string
	Description                 *string
	KmsKeyId                    *string
	SecretBinary                []byte
	SecretString                *string
	Tags                        []smTag
	AddReplicaRegions           []map[string]any
	ForceOverwriteReplicaSecret *bool
	Type                        *string
}

// secretRef is the ARN and name most Secrets Manager outputs carry.
type secretRef struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

type versionOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

func (in *createSecretInput) validate() error {
	var v validator
	v.reqStr("name", in.Name, 1, 512)
	v.str("clientRequestToken", in.ClientRequestToken, 32, 64)
	v.str("description", in.Description, 0, 2048)
	v.str("kmsKeyId", in.KmsKeyId, 0, 2048)
	validateSecretValue(&v, in.SecretString, in.SecretBinary)
	validateSMTags(&v, in.Tags)
	if err := v.err(); err != nil {
		return err
	}
	if !secretNamePattern.MatchString(*in.Name) {
		return errf(codeSMParameter, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if len(in.AddReplicaRegions) > 0 {
		return errf(codeSMRequest, "awsemu: replica regions are not emulated")
	}
	if err := checkOneValue(in.SecretString, in.SecretBinary); err != nil {
		return err
	}
	return checkSMTags(in.Tags)
}

func (e *Emulator) createSecret(in *createSecretInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if s, ok := e.st.Secrets[*in.Name]; ok {
		return e.createExisting(s, in)
	}
	now := e.now()
	s := &secret{Name: *in.Name, ARN: e.secretARN(*in.Name), Description: in.Description,
		KmsKeyID: deref(in.KmsKeyId), Created: now, Changed: now, Tags: in.Tags}
	out := versionOutput{ARN: s.ARN, Name: s.Name}
	if in.SecretString != nil || in.SecretBinary != nil {
		v := &secretVersion{ID: orDefault(in.ClientRequestToken, newUUID()), String: in.SecretString,
			Binary: in.SecretBinary, Created: now}
		s.addVersion(v, []string{stageCurrent})
		out.VersionId = v.ID
	}
	e.st.Secrets[s.Name] = s
	e.touch()
	return out, nil
}

// createExisting answers CreateSecret for a name that is taken: a retry
// of the request that created it (same token, same value) succeeds again.
func (e *Emulator) createExisting(s *secret, in *createSecretInput) (any, error) {
	if s.DeletedDate != nil {
		return nil, errf(codeSMRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
	}
	if in.ClientRequestToken != nil {
		if v := s.version(*in.ClientRequestToken); v != nil && v.sameValue(in.SecretString, in.SecretBinary) {
			return versionOutput{ARN: s.ARN, Name: s.Name, VersionId: v.ID}, nil
		}
	}
	return nil, errf(codeSMExists, "The operation failed because the secret %s already exists.", s.Name)
}

type getSecretValueInput struct {
	SecretId     *string
	VersionId    *string
	VersionStage *string
}

type getSecretValueOutput struct {
	ARN           string    `json:"ARN"`
	Name          string    `json:"Name"`
	VersionId     string    `json:"VersionId"`
	SecretBinary  []byte    `json:"SecretBinary,omitempty"`
	SecretString  *string   `json:"SecretString,omitempty"`
	VersionStages []string  `json:"VersionStages"`
	CreatedDate   epochTime `json:"CreatedDate"`
}

func (e *Emulator) getSecretValue(in *getSecretValueInput) (any, error) {
	var v validator
	v.reqStr("secretId", in.SecretId, 1, 2048)
	v.str("versionId", in.VersionId, 32, 64)
	v.str("versionStage", in.VersionStage, 1, 256)
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.liveSecret(*in.SecretId)
	if err != nil {
		return nil, err
	}
	ver, err := pickVersion(s, in.VersionId, in.VersionStage)
	if err != nil {
		return nil, err
	}
	e.markAccessed(s)
	return getSecretValueOutput{ARN: s.ARN, Name: s.Name, VersionId: ver.ID, SecretBinary: ver.Binary,
		SecretString: ver.String, VersionStages: ver.Stages, CreatedDate: epochTime(ver.Created)}, nil
}

// pickVersion selects by VersionId and/or VersionStage (default
// AWSCURRENT); when both are given they must name the same version.
func pickVersion(s *secret, id, stage *string) (*secretVersion, error) {
	if id != nil {
		v := s.version(*id)
		if v == nil || (stage != nil && s.byStage(*stage) != v) {
			return nil, errf(codeSMNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", *id)
		}
		return v, nil
	}
	label := orDefault(stage, stageCurrent)
	if v := s.byStage(label); v != nil {
		return v, nil
	}
	return nil, errf(codeSMNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", label)
}

// markAccessed records the access date; AWS keeps it to the day.
func (e *Emulator) markAccessed(s *secret) {
	day := e.now().Truncate(24 * time.Hour)
	if s.Accessed == nil || !s.Accessed.Equal(day) {
		s.Accessed = &day
		e.touch()
	}
}

type putSecretValueInput struct {
	SecretId           *string
	ClientRequestToken *string
	SecretBinary       []byte
	SecretString       *string
	VersionStages      []string
	RotationToken      *string
}

func (in *putSecretValueInput) validate() error {
	var v validator
	v.reqStr("secretId", in.SecretId, 1, 2048)
	v.str("clientRequestToken", in.ClientRequestToken, 32, 64)
	validateSecretValue(&v, in.SecretString, in.SecretBinary)
	if in.VersionStages != nil {
		v.count("versionStages", len(in.VersionStages), 1, 20)
	}
	for i := range in.VersionStages {
		v.str("versionStages.member", &in.VersionStages[i], 1, 256)
	}
	if err := v.err(); err != nil {
		return err
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return errf(codeSMRequest, "You must provide either SecretString or SecretBinary.")
	}
	return checkOneValue(in.SecretString, in.SecretBinary)
}

func (e *Emulator) putSecretValue(in *putSecretValueInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	s, err := e.liveSecret(*in.SecretId)
	if err != nil {
		return nil, err
	}
	stages := in.VersionStages
	if stages == nil || (len(s.Versions) == 0 && !slices.Contains(stages, stageCurrent)) {
		stages = append(stages, stageCurrent)
	}
	v, err := e.putVersion(s, in.ClientRequestToken, in.SecretString, in.SecretBinary, stages)
	if err != nil {
		return nil, err
	}
	return versionOutput{ARN: s.ARN, Name: s.Name, VersionId: v.ID, VersionStages: v.Stages}, nil
}

// putVersion adds a version with the given value and stages; a version
// already made with the same token is returned when its value is the
// same, and refused when it differs.
func (e *Emulator) putVersion(s *secret, token, str *string, bin []byte, stages []string) (*secretVersion, error) {
	id := orDefault(token, newUUID())
	if v := s.version(id); v != nil {
		if v.sameValue(str, bin) {
			return v, nil
		}
		return nil, errf(codeSMExists, "You can't modify an existing version, you can only create a new version.")
	}
	now := e.now()
	v := &secretVersion{ID: id, String: str, Binary: bin, Created: now}
	s.addVersion(v, stages)
	s.Changed = now
	e.touch()
	return v, nil
}

type secretIDInput struct {
	SecretId *string
}

func (in *secretIDInput) validate() error {
	var v validator
	v.reqStr("secretId", in.SecretId, 1, 2048)
	return v.err()
}

type updateSecretInput struct {
	SecretId           *string
	ClientRequestToken *string
	Description        *string
	KmsKeyId           *string
	SecretBinary       []byte
	SecretString       *string
	Type               *string
}

func (in *updateSecretInput) validate() error {
	var v validator
	v.reqStr("secretId", in.SecretId, 1, 2048)
	v.str("clientRequestToken", in.ClientRequestToken, 32, 64)
	v.str("description", in.Description, 0, 2048)
	v.str("kmsKeyId", in.KmsKeyId, 0, 2048)
	validateSecretValue(&v, in.SecretString, in.SecretBinary)
	if err := v.err(); err != nil {
		return err
	}
	return checkOneValue(in.SecretString, in.SecretBinary)
}

func (e *Emulator) updateSecret(in *updateSecretInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	s, err := e.liveSecret(*in.SecretId)
	if err != nil {
		return nil, err
	}
	out := versionOutput{ARN: s.ARN, Name: s.Name}
	if in.SecretString != nil || in.SecretBinary != nil {
		v, err := e.putVersion(s, in.ClientRequestToken, in.SecretString, in.SecretBinary, []string{stageCurrent})
		if err != nil {
			return nil, err
		}
		out.VersionId = v.ID
	}
	if in.Description != nil || in.KmsKeyId != nil {
		s.Description = orPtr(in.Description, s.Description)
		s.KmsKeyID = orDefault(in.KmsKeyId, s.KmsKeyID)
		s.Changed = e.now()
		e.touch()
	}
	return out, nil
}

type deleteSecretInput struct {
	SecretId                   *string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

type deleteSecretOutput struct {
	ARN          string    `json:"ARN"`
	Name         string    `json:"Name"`
	DeletionDate epochTime `json:"DeletionDate"`
}

func (in *deleteSecretInput) validate() error {
	var v validator
	v.reqStr("secretId", in.SecretId, 1, 2048)
	v.intRange("recoveryWindowInDays", in.RecoveryWindowInDays, 7, 30)
	if err := v.err(); err != nil {
		return err
	}
	if in.RecoveryWindowInDays != nil && in.force() {
		return errf(codeSMParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	return nil
}

func (in *deleteSecretInput) force() bool {
	return in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
}

func (e *Emulator) deleteSecret(in *deleteSecretInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	s, err := e.findSecret(*in.SecretId)
	if err != nil {
		return nil, err
	}
	now := e.now()
	switch {
	case in.force():
		delete(e.st.Secrets, s.Name)
		e.touch()
		return deleteSecretOutput{ARN: s.ARN, Name: s.Name, DeletionDate: epochTime(now)}, nil
	case s.DeletedDate != nil:
		return nil, errf(codeSMRequest, "You can't delete secret %s that is already scheduled for deletion.", s.Name)
	}
	when := now.Add(time.Duration(intOr(in.RecoveryWindowInDays, 30)) * 24 * time.Hour)
	s.DeletedDate, s.DeletionDate, s.Changed = &now, &when, now
	e.touch()
	return deleteSecretOutput{ARN: s.ARN, Name: s.Name, DeletionDate: epochTime(when)}, nil
}

func (e *Emulator) restoreSecret(in *secretIDInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	s, err := e.findSecret(*in.SecretId)
	if err != nil {
		return nil, err
	}
	if s.DeletedDate != nil {
		s.DeletedDate, s.DeletionDate, s.Changed = nil, nil, e.now()
		e.touch()
	}
	return secretRef{ARN: s.ARN, Name: s.Name}, nil
}

// orPtr returns p, or def when p is nil.
func orPtr(p, def *string) *string {
	if p == nil {
		return def
	}
	return p
}
