package awsemu

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// wrapForImport gets import parameters for key and wraps material with
// them as a client must: RSA-OAEP under the returned public key.
func wrapForImport(t *testing.T, env *testEnv, keyID *string, alg types.AlgorithmSpec, material []byte) (token, wrapped []byte) {
	t.Helper()
	params := must(env.kms.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: keyID, WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048}))(t)
	if d := params.ParametersValidTo.Sub(time.Now()); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("ParametersValidTo %v is not a day away", params.ParametersValidTo)
	}
	pub, err := x509.ParsePKIXPublicKey(params.PublicKey)
	if err != nil {
		t.Fatalf("PublicKey is not DER SubjectPublicKeyInfo: %v", err)
	}
	var h hash.Hash = sha256.New()
	if alg == types.AlgorithmSpecRsaesOaepSha1 {
		h = sha1.New()
	}
	wrapped, err = rsa.EncryptOAEP(h, rand.Reader, pub.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return params.ImportToken, wrapped
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestImportKeyMaterial(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Description: aws.String("byok")})
	if k.KeyState != types.KeyStatePendingImport || k.Enabled || k.Origin != types.OriginTypeExternal {
		t.Fatalf("new EXTERNAL key is %s, enabled %v", k.KeyState, k.Enabled)
	}
	_, err := env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantErr[*types.KMSInvalidStateException](t, err)

	material := randomBytes(32)
	token, wrapped := wrapForImport(t, env, k.KeyId, types.AlgorithmSpecRsaesOaepSha256, material)
	out := must(env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}))(t)
	if *out.KeyId != *k.Arn || len(*out.KeyMaterialId) != 64 {
		t.Fatalf("unexpected ImportKeyMaterial output %+v", out)
	}
	md := must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t).KeyMetadata
	if md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("imported key is %s, %s", md.KeyState, md.ExpirationModel)
	}
	ec := map[string]string{"app": "cutover"}
	enc := must(env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("byok"), EncryptionContext: ec}))(t)
	dec := must(env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)
	if string(dec.Plaintext) != "byok" {
		t.Fatalf("round trip gave %q", dec.Plaintext)
	}

	// Re-importing the same material (SHA-1 OAEP this time) is accepted.
	token, wrapped = wrapForImport(t, env, k.Arn, types.AlgorithmSpecRsaesOaepSha1, material)
	must(env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}))(t)
	// Different material is refused.
	token, wrapped = wrapForImport(t, env, k.KeyId, types.AlgorithmSpecRsaesOaepSha256, randomBytes(32))
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantErr[*types.IncorrectKeyMaterialException](t, err)
	dec = must(env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)
	if string(dec.Plaintext) != "byok" {
		t.Fatal("refused import changed the key")
	}
}

func TestImportKeyMaterialErrors(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	other := createKey(t, env, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	aws1 := createKey(t, env, nil)
	doesNot := types.ExpirationModelTypeKeyMaterialDoesNotExpire

	_, err := env.kms.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws1.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantErr[*types.UnsupportedOperationException](t, err)

	token, wrapped := wrapForImport(t, env, k.KeyId, types.AlgorithmSpecRsaesOaepSha256, randomBytes(16))
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: doesNot})
	wantErr[*types.IncorrectKeyMaterialException](t, err)

	token, wrapped = wrapForImport(t, env, k.KeyId, types.AlgorithmSpecRsaesOaepSha256, randomBytes(32))
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: other.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: doesNot})
	wantErr[*types.InvalidImportTokenException](t, err)
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: bytes.Repeat([]byte{1}, 256), ExpirationModel: doesNot})
	wantErr[*types.InvalidCiphertextException](t, err)
	// KEY_MATERIAL_EXPIRES (the default) needs ValidTo, and the other model forbids it.
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token, EncryptedKeyMaterial: wrapped})
	wantCode(t, err, "ValidationException")
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: doesNot, ValidTo: aws.Time(time.Now().Add(time.Hour))})
	wantCode(t, err, "ValidationException")

	env.now.t = env.now.t.Add(25 * time.Hour)
	_, err = env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: doesNot})
	wantErr[*types.ExpiredImportTokenException](t, err)
}

func TestImportedMaterialExpires(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	material := randomBytes(32)
	token, wrapped := wrapForImport(t, env, k.KeyId, types.AlgorithmSpecRsaesOaepSha256, material)
	validTo := env.now.t.Add(48 * time.Hour)
	must(env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: &validTo}))(t)
	md := must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t).KeyMetadata
	if md.KeyState != types.KeyStateEnabled || md.ValidTo == nil || !md.ValidTo.Equal(validTo.Truncate(time.Millisecond)) {
		t.Fatalf("imported key is %s valid to %v, want Enabled to %v", md.KeyState, md.ValidTo, validTo)
	}
	env.now.t = validTo
	md = must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t).KeyMetadata
	if md.KeyState != types.KeyStatePendingImport {
		t.Fatalf("expired key is %s, want PendingImport", md.KeyState)
	}
	_, err := env.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256})
	wantErr[*types.KMSInvalidStateException](t, err)
}
