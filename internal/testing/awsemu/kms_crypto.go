package awsemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// Ciphertext blobs are the emulator's own format:
//
//	0x01 | len(keyID) | keyID | 12-byte nonce | AES-256-GCM sealed plaintext
//
// The additional data is blobAAD, the header and the canonical encoding of
// the encryption context, so a blob opens only under its key and context.
const (
	blobVersion = 0x01
	blobAAD     = "awsemu/kms/v1\x00"
	nonceSize   = 12
	symmetric   = "SYMMETRIC_DEFAULT"
)

var encryptionAlgorithms = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}

// seal encrypts plaintext under k for context ctx.
func seal(k *kmsKey, plaintext []byte, ctx map[string]string) []byte {
	header := append([]byte{blobVersion, byte(len(k.ID))}, k.ID...)
	nonce := make([]byte, nonceSize)
	_, _ = rand.Read(nonce)
	out := append(slices.Clone(header), nonce...)
	return gcm(k.Material).Seal(out, nonce, plaintext, aad(header, ctx))
}

// blobKeyID returns the key id a blob names.
func blobKeyID(blob []byte) (string, bool) {
	if len(blob) < 2 || blob[0] != blobVersion || len(blob) < 2+int(blob[1])+nonceSize {
		return "", false
	}
	id := string(blob[2 : 2+int(blob[1])])
	return id, uuidPattern.MatchString(id)
}

// open decrypts a blob of k for context ctx.
func open(k *kmsKey, blob []byte, ctx map[string]string) ([]byte, bool) {
	n := 2 + int(blob[1])
	header, nonce, sealed := blob[:n], blob[n:n+nonceSize], blob[n+nonceSize:]
	pt, err := gcm(k.Material).Open(nil, nonce, sealed, aad(header, ctx))
	return pt, err == nil
}

func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("awsemu: key material is not an AES key: " + err.Error())
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic("awsemu: " + err.Error())
	}
	return g
}

// aad encodes the header and the context, sorted by key, each string
// length-prefixed.
func aad(header []byte, ctx map[string]string) []byte {
	b := append([]byte(blobAAD), header...)
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(ctx[k])))
		b = append(b, ctx[k]...)
	}
	return b
}

// materialID is the key material id KMS reports: a digest of the key and
// its material.
func materialID(keyID string, material []byte) string {
	sum := sha256.Sum256(append([]byte(keyID+"\x00"), material...))
	return hex.EncodeToString(sum[:])
}

// cryptoKey resolves the key of a cryptographic operation and checks that
// it may be used with algorithm alg; a dry run stops there.
func (e *Emulator) cryptoKey(id string, alg *string, dryRun *bool) (*kmsKey, error) {
	k, err := e.resolveKey(id, true)
	if err != nil {
		return nil, err
	}
	if err := e.requireUsable(k); err != nil {
		return nil, err
	}
	if orDefault(alg, symmetric) != symmetric {
		return nil, errf("InvalidKeyUsageException", "%s is not a valid encryption algorithm for key %s.", *alg, e.keyARN(k.ID))
	}
	if dryRun != nil && *dryRun {
		return nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	return k, nil
}

type encryptInput struct {
	KeyId               *string
	Plaintext           []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	EncryptionAlgorithm *string
	DryRun              *bool
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyId               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (e *Emulator) encrypt(in *encryptInput) (any, error) {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.reqBlob("plaintext", in.Plaintext, 1, 4096)
	v.count("grantTokens", len(in.GrantTokens), 0, 10)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms...)
	if err := v.err(); err != nil {
		return nil, err
	}
	k, err := e.cryptoKey(*in.KeyId, in.EncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	return encryptOutput{CiphertextBlob: seal(k, in.Plaintext, in.EncryptionContext),
		KeyId: e.keyARN(k.ID), EncryptionAlgorithm: symmetric}, nil
}

type decryptInput struct {
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	KeyId               *string
	EncryptionAlgorithm *string
	Recipient           map[string]any
	DryRun              *bool
}

type decryptOutput struct {
	KeyId               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (in *decryptInput) validate() error {
	var v validator
	v.reqBlob("ciphertextBlob", in.CiphertextBlob, 1, 6144)
	v.str("keyId", in.KeyId, 1, maxKeyIDLen)
	v.count("grantTokens", len(in.GrantTokens), 0, 10)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms...)
	if err := v.err(); err != nil {
		return err
	}
	if in.Recipient != nil {
		return errf(codeUnsupported, "awsemu: Recipient (Nitro Enclaves) is not emulated")
	}
	return nil
}

func (e *Emulator) decrypt(in *decryptInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	id, ok := blobKeyID(in.CiphertextBlob)
	if !ok {
		return nil, errf("InvalidCiphertextException", "The ciphertext is not valid.")
	}
	if err := e.checkDecryptKeyID(in.KeyId, id); err != nil {
		return nil, err
	}
	k, err := e.cryptoKey(id, in.EncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	pt, ok := open(k, in.CiphertextBlob, in.EncryptionContext)
	if !ok {
		return nil, errf("InvalidCiphertextException", "The ciphertext is not valid or the encryption context does not match.")
	}
	return decryptOutput{KeyId: e.keyARN(k.ID), Plaintext: pt, EncryptionAlgorithm: symmetric}, nil
}

// checkDecryptKeyID refuses a Decrypt whose KeyId names another key than
// the one that encrypted the blob.
func (e *Emulator) checkDecryptKeyID(keyID *string, blobKey string) error {
	if keyID == nil {
		return nil
	}
	k, err := e.resolveKey(*keyID, true)
	if err != nil {
		return err
	}
	if k.ID != blobKey {
		return errf("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.")
	}
	return nil
}

type generateDataKeyInput struct {
	KeyId             *string
	EncryptionContext map[string]string
	NumberOfBytes     *int64
	KeySpec           *string
	GrantTokens       []string
	Recipient         map[string]any
	DryRun            *bool
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext"`
	KeyId          string `json:"KeyId"`
}

func (in *generateDataKeyInput) size() (int, error) {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.enum("keySpec", in.KeySpec, "AES_256", "AES_128")
	v.count("grantTokens", len(in.GrantTokens), 0, 10)
	if err := v.err(); err != nil {
		return 0, err
	}
	switch {
	case in.Recipient != nil:
		return 0, errf(codeUnsupported, "awsemu: Recipient (Nitro Enclaves) is not emulated")
	case (in.KeySpec == nil) == (in.NumberOfBytes == nil):
		return 0, errf(codeValidation, "Please specify either number of bytes or key spec.")
	case in.NumberOfBytes != nil:
		return int(*in.NumberOfBytes), nil
	case *in.KeySpec == "AES_128":
		return 16, nil
	}
	return 32, nil
}

func (e *Emulator) generateDataKey(in *generateDataKeyInput) (any, error) {
	n, err := in.size()
	if err != nil {
		return nil, err
	}
	k, err := e.cryptoKey(*in.KeyId, nil, in.DryRun)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, n)
	_, _ = rand.Read(pt)
	return generateDataKeyOutput{CiphertextBlob: seal(k, pt, in.EncryptionContext), Plaintext: pt, KeyId: e.keyARN(k.ID)}, nil
}
