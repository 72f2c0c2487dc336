package awsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

const stateVersion = 1

// state is everything the emulator stores; it is what StateFile holds.
type state struct {
	Version   int                  `json:"version"`
	Region    string               `json:"region"`
	AccountID string               `json:"accountId"`
	Keys      map[string]*kmsKey   `json:"keys"`    // by key id
	Aliases   map[string]*kmsAlias `json:"aliases"` // by alias name
	Secrets   map[string]*secret   `json:"secrets"` // by secret name
}

// kmsKey is one KMS key.
type kmsKey struct {
	ID              string            `json:"id"`
	Description     string            `json:"description"`
	Origin          string            `json:"origin"`
	State           string            `json:"state"`
	Created         time.Time         `json:"created"`
	Material        []byte            `json:"material,omitempty"` // for EXTERNAL keys: the material first imported
	Loaded          bool              `json:"loaded"`             // Material is usable
	ExpirationModel string            `json:"expirationModel,omitempty"`
	ValidTo         *time.Time        `json:"validTo,omitempty"`
	Rotation        bool              `json:"rotation"`
	RotationPeriod  int64             `json:"rotationPeriod,omitempty"`
	RotationSince   time.Time         `json:"rotationSince"`
	DeletionDate    *time.Time        `json:"deletionDate,omitempty"`
	PendingDays     int64             `json:"pendingDays,omitempty"`
	Tags            map[string]string `json:"tags"`
	Imports         []importParams    `json:"imports,omitempty"`
	Policy          string            `json:"policy,omitempty"`
}

// importParams is one GetParametersForImport answer still valid.
type importParams struct {
	Token      []byte    `json:"token"`
	PrivateKey []byte    `json:"privateKey"` // PKCS#8 DER of the RSA wrapping key
	Algorithm  string    `json:"algorithm"`
	ValidTo    time.Time `json:"validTo"`
}

// kmsAlias is one KMS alias.
type kmsAlias struct {
	Name    string    `json:"name"`
	KeyID   string    `json:"keyId"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// secret is one Secrets Manager secret.
type secret struct {
	Name         string           `json:"name"`
	ARN          string           `json:"arn"`
	Description  *string          `json:"description,omitempty"`
	KmsKeyID     string           `json:"kmsKeyId,omitempty"`
	Created      time.Time        `json:"created"`
	Changed      time.Time        `json:"changed"`
	Accessed     *time.Time       `json:"accessed,omitempty"`
	DeletedDate  *time.Time       `json:"deletedDate,omitempty"`
	DeletionDate *time.Time       `json:"deletionDate,omitempty"`
	Tags         []smTag          `json:"tags,omitempty"`
	Versions     []*secretVersion `json:"versions"` // in creation order
}

// secretVersion is one version of a secret.
type secretVersion struct {
	ID      string    `json:"id"`
	String  *string   `json:"string,omitempty"`
	Binary  []byte    `json:"binary,omitempty"`
	Stages  []string  `json:"stages"`
	Created time.Time `json:"created"`
}

func newState(region, account string) *state {
	return &state{
		Version: stateVersion, Region: region, AccountID: account,
		Keys: map[string]*kmsKey{}, Aliases: map[string]*kmsAlias{}, Secrets: map[string]*secret{},
	}
}

// loadState reads path ("" or a missing file: an empty state).
func loadState(path, region, account string) (*state, error) {
	st := newState(region, account)
	if path == "" {
		return st, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("awsemu: read state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("awsemu: parse state %s: %w", path, err)
	}
	if st.Version != stateVersion || st.Region != region || st.AccountID != account {
		return nil, fmt.Errorf("awsemu: state %s is version %d for %s/%s, want version %d for %s/%s",
			path, st.Version, st.Region, st.AccountID, stateVersion, region, account)
	}
	st.fillMaps()
	return st, nil
}

// fillMaps replaces maps a state file left null with empty ones.
func (st *state) fillMaps() {
	if st.Keys == nil {
		st.Keys = map[string]*kmsKey{}
	}
	if st.Aliases == nil {
		st.Aliases = map[string]*kmsAlias{}
	}
	if st.Secrets == nil {
		st.Secrets = map[string]*secret{}
	}
	for _, k := range st.Keys {
		if k.Tags == nil {
			k.Tags = map[string]string{}
		}
	}
}

// save writes the state to StateFile atomically. Callers hold e.mu.
func (e *Emulator) save() error {
	if e.cfg.StateFile == "" {
		return nil
	}
	b, err := json.Marshal(e.st)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(e.cfg.StateFile, b, 0o600)
}

// expire applies lapsed deadlines: deletes keys and secrets whose
// deletion date passed, and unloads imported key material past its
// ValidTo. Callers hold e.mu.
func (e *Emulator) expire() {
	now := e.now()
	for id, k := range e.st.Keys {
		if k.DeletionDate != nil && !now.Before(*k.DeletionDate) {
			e.deleteKey(id)
			continue
		}
		e.expireMaterial(k, now)
	}
	for name, s := range e.st.Secrets {
		if s.DeletionDate != nil && !now.Before(*s.DeletionDate) {
			delete(e.st.Secrets, name)
			e.touch()
		}
	}
}

// deleteKey removes a key and the aliases that point at it.
func (e *Emulator) deleteKey(id string) {
	delete(e.st.Keys, id)
	for name, a := range e.st.Aliases {
		if a.KeyID == id {
			delete(e.st.Aliases, name)
		}
	}
	e.touch()
}

// expireMaterial unloads imported material past its ValidTo. (Expired
// import parameters are kept, capped per key, so that using one answers
// ExpiredImportTokenException.)
func (e *Emulator) expireMaterial(k *kmsKey, now time.Time) {
	if k.Loaded && k.ValidTo != nil && !now.Before(*k.ValidTo) {
		k.Loaded = false
		if k.State == keyEnabled || k.State == keyDisabled {
			k.State = keyPendingImport
		}
		e.touch()
	}
}
