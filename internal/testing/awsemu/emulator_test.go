package awsemu

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestNewValidatesConfig(t *testing.T) {
	good := Config{Region: testRegion, AccountID: testAccount, Credentials: map[string]string{"a": "b"}}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"no region":      func(c *Config) { c.Region = "" },
		"bad account":    func(c *Config) { c.AccountID = "123" },
		"no credentials": func(c *Config) { c.Credentials = nil },
		"empty secret":   func(c *Config) { c.Credentials = map[string]string{"a": ""} },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestFailNextAndRequestCount(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, nil)
	// A 5xx fault is retried by the SDK, as it would be against AWS.
	env.emu.FailNext("Encrypt", "KMSInternalException")
	must(env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")}))(t)
	if n := env.emu.RequestCount("Encrypt"); n != 2 {
		t.Fatalf("Encrypt got %d requests, want 2 (fault + retry)", n)
	}
	if n := env.emu.RequestCount("TrentService.Encrypt"); n != 2 {
		t.Fatalf("TrentService.Encrypt got %d requests, want 2", n)
	}
	// A client fault is returned as the SDK's typed error and changes nothing.
	env.emu.FailNext("secretsmanager.CreateSecret", "LimitExceededException")
	_, err := env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("f"), SecretString: aws.String("v")},
		func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	wantErr[*smtypes.LimitExceededException](t, err)
	_, err = env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("f")})
	wantErr[*smtypes.ResourceNotFoundException](t, err)
	env.emu.FailNext("DescribeKey", "NotFoundException")
	env.emu.FailNext("DescribeKey", "DisabledException")
	_, err = env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	wantErr[*kmstypes.NotFoundException](t, err)
	_, err = env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	wantErr[*kmstypes.DisabledException](t, err)
	must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t)
	if n := env.emu.RequestCount("DescribeKey"); n != 3 {
		t.Fatalf("DescribeKey got %d requests, want 3", n)
	}
}

func TestStateFilePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	withState := func(c *Config) { c.StateFile = path }
	env := newEnv(t, withState)
	k := createKey(t, env, nil)
	must(env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kept"), TargetKeyId: k.KeyId}))(t)
	ext := createKey(t, env, &kms.CreateKeyInput{Origin: kmstypes.OriginTypeExternal})
	token, wrapped := wrapForImport(t, env, ext.KeyId, kmstypes.AlgorithmSpecRsaesOaepSha256, randomBytes(32))
	must(env.kms.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: ext.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: kmstypes.ExpirationModelTypeKeyMaterialDoesNotExpire}))(t)
	blob := must(env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/kept"), Plaintext: []byte("p")}))(t).CiphertextBlob
	extBlob := must(env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: ext.KeyId, Plaintext: []byte("q")}))(t).CiphertextBlob
	createSecret(t, env, "kept", "v1")
	must(env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("kept"), SecretString: aws.String("v2")}))(t)

	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v", err, info.Mode())
	}
	env2 := newEnv(t, withState) // a restarted emulator
	if got := must(env2.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}))(t); string(got.Plaintext) != "p" {
		t.Fatalf("decrypt after restart: %q", got.Plaintext)
	}
	if got := must(env2.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: extBlob}))(t); string(got.Plaintext) != "q" {
		t.Fatalf("decrypt with imported key after restart: %q", got.Plaintext)
	}
	prev := must(env2.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("kept"), VersionStage: aws.String("AWSPREVIOUS")}))(t)
	if *prev.SecretString != "v1" {
		t.Fatalf("previous version after restart: %s", *prev.SecretString)
	}
	if _, err := New(Config{Region: "us-east-1", AccountID: testAccount, Credentials: map[string]string{"a": "b"}, StateFile: path}); err == nil {
		t.Fatal("New accepted a state file of another region")
	}
	if err := os.WriteFile(path, []byte("{corrupt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Region: testRegion, AccountID: testAccount, Credentials: map[string]string{"a": "b"}, StateFile: path}); err == nil {
		t.Fatal("New accepted a corrupt state file")
	}
}

func TestConcurrentMixedTraffic(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.StateFile = filepath.Join(t.TempDir(), "state.json") })
	k := createKey(t, env, nil)
	createSecret(t, env, "shared", "v0")
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 15 {
				switch (g + i) % 4 {
				case 0:
					_, err := env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("shared"), SecretString: aws.String(fmt.Sprint(i))})
					check(t, err)
				case 1:
					_, err := env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("shared")})
					check(t, err)
				case 2:
					_, err := env.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
					check(t, err)
				default:
					_, err := env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
					check(t, err)
				}
			}
		})
	}
	wg.Wait()
}

func check(t *testing.T, err error) {
	if err != nil {
		t.Error(err)
	}
}
