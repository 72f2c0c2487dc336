package awsemu

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"time"
)

const (
	importTokenTTL   = 24 * time.Hour
	maxImportsPerKey = 10
	maxMaterialLife  = 365 * 24 * time.Hour
	codeIncorrectMat = "IncorrectKeyMaterialException"
	expiresModel     = "KEY_MATERIAL_EXPIRES"
	doesNotExpire    = "KEY_MATERIAL_DOES_NOT_EXPIRE"
)

var (
	wrappingAlgorithms = []string{"RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256",
		"RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE"}
	wrappingKeyBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
)

type getParametersForImportInput struct {
	KeyId             *string
	WrappingAlgorithm *string
	WrappingKeySpec   *string
}

type getParametersForImportOutput struct {
	KeyId             string    `json:"KeyId"`
	ImportToken       []byte    `json:"ImportToken"`
	PublicKey         []byte    `json:"PublicKey"`
	ParametersValidTo epochTime `json:"ParametersValidTo"`
}

func (in *getParametersForImportInput) validate() error {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.required("wrappingAlgorithm", in.WrappingAlgorithm != nil)
	v.enum("wrappingAlgorithm", in.WrappingAlgorithm, wrappingAlgorithms...)
	v.required("wrappingKeySpec", in.WrappingKeySpec != nil)
	v.enum("wrappingKeySpec", in.WrappingKeySpec, "RSA_2048", "RSA_3072", "RSA_4096", "SM2")
	if err := v.err(); err != nil {
		return err
	}
	if _, ok := oaepHash(*in.WrappingAlgorithm); !ok || wrappingKeyBits[*in.WrappingKeySpec] == 0 {
		return errf(codeUnsupported, "awsemu: only RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256 with RSA_2048, RSA_3072 or RSA_4096 are emulated")
	}
	return nil
}

// oaepHash is the OAEP hash of a wrapping algorithm the emulator supports.
func oaepHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case "RSAES_OAEP_SHA_1":
		return crypto.SHA1, true
	case "RSAES_OAEP_SHA_256":
		return crypto.SHA256, true
	}
	return 0, false
}

// getParametersForImport generates the RSA wrapping key before taking the
// lock: it is slow.
func (e *Emulator) getParametersForImport(in *getParametersForImportInput) ([]byte, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	priv, err := rsa.GenerateKey(rand.Reader, wrappingKeyBits[*in.WrappingKeySpec])
	if err != nil {
		return nil, internalErr(err)
	}
	return e.locked(func() (any, error) { return e.storeImportParams(in, priv) })
}

func (e *Emulator) storeImportParams(in *getParametersForImportInput, priv *rsa.PrivateKey) (any, error) {
	k, err := e.resolveKey(*in.KeyId, false)
	if err != nil {
		return nil, err
	}
	if err := e.requireOrigin(k, originExternal); err != nil {
		return nil, err
	}
	if err := e.requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	p := importParams{Token: make([]byte, 64), PrivateKey: der, Algorithm: *in.WrappingAlgorithm,
		ValidTo: e.now().Add(importTokenTTL)}
	_, _ = rand.Read(p.Token)
	k.Imports = append(k.Imports, p)
	if len(k.Imports) > maxImportsPerKey {
		k.Imports = k.Imports[len(k.Imports)-maxImportsPerKey:]
	}
	e.touch()
	return getParametersForImportOutput{KeyId: e.keyARN(k.ID), ImportToken: p.Token, PublicKey: pub,
		ParametersValidTo: epochTime(p.ValidTo)}, nil
}

type importKeyMaterialInput struct {
	KeyId                  *string
	ImportToken            []byte
	EncryptedKeyMaterial   []byte
	ValidTo                *float64
	ExpirationModel        *string
	ImportType             *string
	KeyMaterialDescription *string
	KeyMaterialId          *string
}

type importKeyMaterialOutput struct {
	KeyId         string `json:"KeyId"`
	KeyMaterialId string `json:"KeyMaterialId"`
}

func (in *importKeyMaterialInput) validate(now time.Time) error {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.reqBlob("importToken", in.ImportToken, 1, 6144)
	v.reqBlob("encryptedKeyMaterial", in.EncryptedKeyMaterial, 1, 6144)
	v.enum("expirationModel", in.ExpirationModel, expiresModel, doesNotExpire)
	v.enum("importType", in.ImportType, "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL")
	v.str("keyMaterialDescription", in.KeyMaterialDescription, 0, 256)
	v.str("keyMaterialId", in.KeyMaterialId, 64, 64)
	if err := v.err(); err != nil {
		return err
	}
	return in.checkExpiration(now)
}

// checkExpiration enforces the ExpirationModel rules: KEY_MATERIAL_EXPIRES
// (the default) needs a ValidTo within a year; the other forbids it.
func (in *importKeyMaterialInput) checkExpiration(now time.Time) error {
	if orDefault(in.ExpirationModel, expiresModel) == doesNotExpire {
		if in.ValidTo != nil {
			return errf(codeValidation, "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
		}
		return nil
	}
	if in.ValidTo == nil {
		return errf(codeValidation, "A ValidTo date must be set when ExpirationModel is KEY_MATERIAL_EXPIRES.")
	}
	if t := fromEpoch(*in.ValidTo); !t.After(now) || t.After(now.Add(maxMaterialLife)) {
		return errf(codeValidation, "ValidTo must be in the future and at most 365 days from now.")
	}
	return nil
}

func (e *Emulator) importKeyMaterial(in *importKeyMaterialInput) (any, error) {
	if err := in.validate(e.now()); err != nil {
		return nil, err
	}
	k, err := e.importTarget(*in.KeyId)
	if err != nil {
		return nil, err
	}
	material, err := e.unwrapMaterial(k, in.ImportToken, in.EncryptedKeyMaterial)
	if err != nil {
		return nil, err
	}
	if err := checkMaterial(k, material, in); err != nil {
		return nil, err
	}
	e.loadMaterial(k, material, in)
	return importKeyMaterialOutput{KeyId: e.keyARN(k.ID), KeyMaterialId: materialID(k.ID, material)}, nil
}

// importTarget resolves a key that may receive imported material.
func (e *Emulator) importTarget(id string) (*kmsKey, error) {
	k, err := e.resolveKey(id, false)
	if err != nil {
		return nil, err
	}
	if err := e.requireOrigin(k, originExternal); err != nil {
		return nil, err
	}
	return k, e.requireNotPendingDeletion(k)
}

// unwrapMaterial finds the import parameters of token on k and unwraps
// the material with their private key.
func (e *Emulator) unwrapMaterial(k *kmsKey, token, wrapped []byte) ([]byte, error) {
	var p *importParams
	for i := range k.Imports {
		if bytes.Equal(k.Imports[i].Token, token) {
			p = &k.Imports[i]
		}
	}
	if p == nil {
		return nil, errf("InvalidImportTokenException", "The import token is not valid for %s.", e.keyARN(k.ID))
	}
	if !e.now().Before(p.ValidTo) {
		return nil, errf("ExpiredImportTokenException", "The import token has expired.")
	}
	priv, err := x509.ParsePKCS8PrivateKey(p.PrivateKey)
	if err != nil {
		return nil, internalErr(err)
	}
	h, _ := oaepHash(p.Algorithm)
	newHash := sha256.New
	if h == crypto.SHA1 {
		newHash = sha1.New
	}
	material, err := rsa.DecryptOAEP(newHash(), nil, priv.(*rsa.PrivateKey), wrapped, nil)
	if err != nil {
		return nil, errf("InvalidCiphertextException", "The encrypted key material could not be unwrapped with the import parameters.")
	}
	return material, nil
}

// checkMaterial refuses material that is not 256 bits, differs from the
// material the key had before, or does not match a stated KeyMaterialId.
func checkMaterial(k *kmsKey, material []byte, in *importKeyMaterialInput) error {
	switch {
	case len(material) != 32:
		return errf(codeIncorrectMat, "Symmetric key material must be 256 bits (32 bytes), not %d bytes.", len(material))
	case k.Material != nil && !bytes.Equal(k.Material, material):
		return errf(codeIncorrectMat, "The key material is not the key material previously imported into this KMS key.")
	case k.Material == nil && orDefault(in.ImportType, "NEW_KEY_MATERIAL") != "NEW_KEY_MATERIAL":
		return errf(codeIncorrectMat, "No key material was previously imported into this KMS key.")
	case in.KeyMaterialId != nil && *in.KeyMaterialId != materialID(k.ID, material):
		return errf(codeIncorrectMat, "The key material does not match KeyMaterialId.")
	}
	return nil
}

// loadMaterial installs material and its expiration, enabling a key that
// was pending import.
func (e *Emulator) loadMaterial(k *kmsKey, material []byte, in *importKeyMaterialInput) {
	k.Material, k.Loaded = material, true
	k.ExpirationModel, k.ValidTo = orDefault(in.ExpirationModel, expiresModel), nil
	if in.ValidTo != nil {
		t := fromEpoch(*in.ValidTo)
		k.ValidTo = &t
	}
	if k.State == keyPendingImport {
		k.State = keyEnabled
	}
	e.touch()
}
