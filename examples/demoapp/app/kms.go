package app

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// DataKeySize is the size of a work item's data key (AES-256).
const DataKeySize = 32

// KMS wraps and unwraps the data keys of work items. Exactly one KMS is
// in use at a time: a key wrapped by one is not unwrapped by another.
type KMS interface {
	// Provider is ProviderLocal or ProviderAWS.
	Provider() string
	// KeyID names the key data keys are wrapped under: the local key's
	// fingerprint, or the AWS KMS key ARN.
	KeyID() string
	// NewDataKey returns a fresh data key for item and its wrapped form.
	NewDataKey(ctx context.Context, item string) (plain, wrapped []byte, err error)
	// Unwrap returns the data key of item from its wrapped form.
	Unwrap(ctx context.Context, item string, wrapped []byte) ([]byte, error)
	// Check proves the KMS works now (a wrap/unwrap round trip).
	Check(ctx context.Context) error
}

// NewKMS returns the KMS cfg.Provider names. For the local provider it
// reads LOCAL_KMS_KEY_FILE; for AWS it only builds the client (a KMS that
// is unreachable at start shows in /health, it does not stop the process).
func NewKMS(cfg *Config) (KMS, error) {
	switch cfg.Provider {
	case ProviderLocal:
		return newLocalKMS(cfg.LocalKeyFile)
	case ProviderAWS:
		return newAWSKMS(cfg.AWS), nil
	}
	return nil, configErr("KMS_PROVIDER %q is not supported", cfg.Provider)
}

// encryptionContext is the context (local: additional data) a data key
// of item is wrapped with.
func encryptionContext(item string) map[string]string {
	return map[string]string{"app": "demoapp", "item": item}
}

// localKMS wraps data keys with AES-256-GCM under a key read from a file.
type localKMS struct {
	aead cipher.AEAD
	id   string
}

// LocalKeyID is the fingerprint of a local key: the first 16 hex digits of
// its SHA-256. It identifies the key without revealing it.
func LocalKeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return "local:" + hex.EncodeToString(sum[:])[:16]
}

func newLocalKMS(path string) (*localKMS, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, configErr("LOCAL_KMS_KEY_FILE %s: %v", path, pe.Err)
		}
		return nil, configErr("LOCAL_KMS_KEY_FILE %s: cannot be read", path)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, configErr("LOCAL_KMS_KEY_FILE %s does not hold a base64-encoded 32-byte key", path)
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return &localKMS{aead: aead, id: LocalKeyID(key)}, nil
}

func (l *localKMS) Provider() string { return ProviderLocal }
func (l *localKMS) KeyID() string    { return l.id }

func localAAD(item string) []byte { return []byte("demoapp/local-kms/v1 app=demoapp item=" + item) }

func (l *localKMS) wrap(item string, plain []byte) []byte {
	nonce := make([]byte, l.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return l.aead.Seal(nonce, nonce, plain, localAAD(item))
}

func (l *localKMS) NewDataKey(_ context.Context, item string) ([]byte, []byte, error) {
	plain := make([]byte, DataKeySize)
	_, _ = rand.Read(plain)
	return plain, l.wrap(item, plain), nil
}

func (l *localKMS) Unwrap(_ context.Context, item string, wrapped []byte) ([]byte, error) {
	n := l.aead.NonceSize()
	if len(wrapped) < n {
		return nil, errors.New("local KMS: wrapped data key is truncated")
	}
	plain, err := l.aead.Open(nil, wrapped[:n], wrapped[n:], localAAD(item))
	if err != nil {
		return nil, errors.New("local KMS: the data key does not unwrap under this local key")
	}
	return plain, nil
}

func (l *localKMS) Check(ctx context.Context) error {
	probe := make([]byte, DataKeySize)
	_, _ = rand.Read(probe)
	got, err := l.Unwrap(ctx, "health", l.wrap("health", probe))
	if err != nil || !bytes.Equal(got, probe) {
		return errors.New("local KMS: round trip failed")
	}
	return nil
}

// awsKMS wraps data keys with AWS KMS (GenerateDataKey / Decrypt) under
// one key, with the item's encryption context.
type awsKMS struct {
	client *kms.Client
	arn    string
}

func newAWSKMS(c AWSConfig) *awsKMS {
	cfg := aws.Config{
		Region:           c.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		RetryMaxAttempts: 2,
		HTTPClient:       &http.Client{Timeout: 10 * time.Second},
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return &awsKMS{client: client, arn: c.KeyARN}
}

func (a *awsKMS) Provider() string { return ProviderAWS }
func (a *awsKMS) KeyID() string    { return a.arn }

func (a *awsKMS) NewDataKey(ctx context.Context, item string) ([]byte, []byte, error) {
	out, err := a.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(a.arn), KeySpec: types.DataKeySpecAes256, EncryptionContext: encryptionContext(item)})
	if err != nil {
		return nil, nil, awsErr("GenerateDataKey", err)
	}
	if len(out.Plaintext) != DataKeySize {
		return nil, nil, fmt.Errorf("AWS KMS: GenerateDataKey returned a %d-byte key, want %d", len(out.Plaintext), DataKeySize)
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

func (a *awsKMS) Unwrap(ctx context.Context, item string, wrapped []byte) ([]byte, error) {
	out, err := a.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(a.arn), CiphertextBlob: wrapped, EncryptionContext: encryptionContext(item)})
	if err != nil {
		return nil, awsErr("Decrypt", err)
	}
	return out.Plaintext, nil
}

func (a *awsKMS) Check(ctx context.Context) error {
	probe := make([]byte, DataKeySize)
	_, _ = rand.Read(probe)
	ec := map[string]string{"app": "demoapp", "item": "health-check"}
	enc, err := a.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a.arn), Plaintext: probe, EncryptionContext: ec})
	if err != nil {
		return awsErr("Encrypt", err)
	}
	dec, err := a.client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(a.arn), CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		return awsErr("Decrypt", err)
	}
	if !bytes.Equal(dec.Plaintext, probe) {
		return errors.New("AWS KMS: Decrypt returned other bytes than were encrypted")
	}
	return nil
}

// KMSError is an error a KMS service returned (as opposed to a data key
// that does not unwrap); the HTTP API answers it with 502 or 503.
type KMSError struct {
	Op   string
	Code string // the AWS error code, when the service answered
	Err  error
}

func (e *KMSError) Error() string {
	var apiErr smithy.APIError
	if errors.As(e.Err, &apiErr) {
		return fmt.Sprintf("AWS KMS %s: %s: %s", e.Op, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	return fmt.Sprintf("AWS KMS %s: %v", e.Op, e.Err)
}

func (e *KMSError) Unwrap() error { return e.Err }

func awsErr(op string, err error) error {
	ke := &KMSError{Op: op, Err: err}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		ke.Code = apiErr.ErrorCode()
	}
	return ke
}

// GenerateLocalKey returns a new local KMS key in LOCAL_KMS_KEY_FILE's
// encoding (standard base64 of 32 random bytes).
func GenerateLocalKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(k), nil
}
