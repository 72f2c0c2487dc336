package awsemu

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

var keyARNPattern = regexp.MustCompile(`^arn:aws:kms:` + testRegion + `:` + testAccount +
	`:key/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func createKey(t *testing.T, env *testEnv, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	return must(env.kms.CreateKey(ctx, in))(t).KeyMetadata
}

func TestCreateAndDescribeKey(t *testing.T) {
	env := newEnv(t)
	md := createKey(t, env, &kms.CreateKeyInput{
		Description: aws.String("migration target"),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("infra")}},
	})
	if !keyARNPattern.MatchString(*md.Arn) || *md.Arn != "arn:aws:kms:"+testRegion+":"+testAccount+":key/"+*md.KeyId {
		t.Fatalf("bad ARN %s for key %s", *md.Arn, *md.KeyId)
	}
	if !md.Enabled || md.KeyState != types.KeyStateEnabled || md.Origin != types.OriginTypeAwsKms ||
		*md.AWSAccountId != testAccount || *md.Description != "migration target" ||
		md.KeySpec != types.KeySpecSymmetricDefault || md.KeyManager != types.KeyManagerTypeCustomer {
		t.Fatalf("unexpected metadata %+v", md)
	}
	if d := time.Since(*md.CreationDate); d < -time.Second || d > time.Minute {
		t.Fatalf("CreationDate %v is not now", md.CreationDate)
	}
	must(env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/target"), TargetKeyId: md.KeyId}))(t)
	aliasARN := "arn:aws:kms:" + testRegion + ":" + testAccount + ":alias/target"
	for _, id := range []string{*md.KeyId, *md.Arn, "alias/target", aliasARN} {
		got := must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}))(t)
		if *got.KeyMetadata.KeyId != *md.KeyId || !got.KeyMetadata.CreationDate.Equal(*md.CreationDate) {
			t.Fatalf("DescribeKey(%s) = %+v", id, got.KeyMetadata)
		}
	}
}

func TestDescribeKeyErrors(t *testing.T) {
	env := newEnv(t)
	for _, id := range []string{
		"not-a-key", "alias/missing", "1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-west-2:" + testAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab",
	} {
		_, err := env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		wantErr[*types.NotFoundException](t, err)
	}
	long := string(bytes.Repeat([]byte("a"), 2049))
	_, err := env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(long)})
	wantCode(t, err, "ValidationException")
}

func TestCreateKeyValidation(t *testing.T) {
	env := newEnv(t)
	_, err := env.kms.CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: types.KeyUsageTypeSignVerify})
	wantCode(t, err, "ValidationException")
	_, err = env.kms.CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: "BOGUS"})
	wantCode(t, err, "ValidationException")
	_, err = env.kms.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	wantErr[*types.UnsupportedOperationException](t, err)
	_, err = env.kms.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String("{not json")})
	wantErr[*types.MalformedPolicyDocumentException](t, err)
	_, err = env.kms.CreateKey(ctx, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("aws:x"), TagValue: aws.String("")}}})
	wantErr[*types.TagException](t, err)
}

func TestListKeysPaginates(t *testing.T) {
	env := newEnv(t)
	want := map[string]bool{}
	for range 25 {
		want[*createKey(t, env, nil).KeyId] = true
	}
	p := kms.NewListKeysPaginator(env.kms, &kms.ListKeysInput{Limit: aws.Int32(10)})
	got, pages := map[string]bool{}, 0
	for p.HasMorePages() {
		out := must(p.NextPage(ctx))(t)
		pages++
		if len(out.Keys) > 10 || out.Truncated != (out.NextMarker != nil) {
			t.Fatalf("page %d: %d keys, truncated %v, marker %v", pages, len(out.Keys), out.Truncated, out.NextMarker)
		}
		for _, k := range out.Keys {
			if got[*k.KeyId] || *k.KeyArn != "arn:aws:kms:"+testRegion+":"+testAccount+":key/"+*k.KeyId {
				t.Fatalf("duplicate or bad entry %s %s", *k.KeyId, *k.KeyArn)
			}
			got[*k.KeyId] = true
		}
	}
	if pages != 3 || len(got) != 25 || !mapsEqual(got, want) {
		t.Fatalf("got %d keys over %d pages, want 25 over 3", len(got), pages)
	}
	_, err := env.kms.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("bogus")})
	wantErr[*types.InvalidMarkerException](t, err)
	_, err = env.kms.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1001)})
	wantCode(t, err, "ValidationException")
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestAliases(t *testing.T) {
	env := newEnv(t)
	k1, k2 := createKey(t, env, nil), createKey(t, env, nil)
	for i := range 12 {
		target := k1.KeyId
		if i%3 == 0 {
			target = k2.Arn
		}
		must(env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/a%02d", i)), TargetKeyId: target}))(t)
	}
	all := listAliases(t, env, nil)
	if len(all) != 12 || *all[0].AliasName != "alias/a00" || *all[0].TargetKeyId != *k2.KeyId ||
		*all[0].AliasArn != "arn:aws:kms:"+testRegion+":"+testAccount+":alias/a00" || all[0].CreationDate == nil {
		t.Fatalf("unexpected aliases %+v", all)
	}
	if got := listAliases(t, env, k2.KeyId); len(got) != 4 {
		t.Fatalf("got %d aliases of k2, want 4", len(got))
	}
	_, err := env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/a01"), TargetKeyId: k2.KeyId})
	wantErr[*types.AlreadyExistsException](t, err)
	for _, bad := range []string{"noprefix", "alias/aws/reserved", "alias/"} {
		_, err = env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(bad), TargetKeyId: k2.KeyId})
		wantErr[*types.InvalidAliasNameException](t, err)
	}
	_, err = env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/x"), TargetKeyId: aws.String("alias/a01")})
	wantErr[*types.NotFoundException](t, err)
	must(env.kms.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/a01")}))(t)
	_, err = env.kms.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/a01")})
	wantErr[*types.NotFoundException](t, err)
	if got := listAliases(t, env, nil); len(got) != 11 {
		t.Fatalf("got %d aliases after delete, want 11", len(got))
	}
}

// listAliases lists aliases two at a time with the SDK paginator.
func listAliases(t *testing.T, env *testEnv, keyID *string) []types.AliasListEntry {
	t.Helper()
	var out []types.AliasListEntry
	p := kms.NewListAliasesPaginator(env.kms, &kms.ListAliasesInput{KeyId: keyID, Limit: aws.Int32(5)})
	for p.HasMorePages() {
		out = append(out, must(p.NextPage(ctx))(t).Aliases...)
	}
	return out
}

func TestTags(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("1")}}})
	must(env.kms.TagResource(ctx, &kms.TagResourceInput{KeyId: k.Arn, Tags: []types.Tag{
		{TagKey: aws.String("b"), TagValue: aws.String("2")}, {TagKey: aws.String("a"), TagValue: aws.String("3")}}}))(t)
	must(env.kms.UntagResource(ctx, &kms.UntagResourceInput{KeyId: k.KeyId, TagKeys: []string{"b", "absent"}}))(t)
	out := must(env.kms.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId}))(t)
	if len(out.Tags) != 1 || *out.Tags[0].TagKey != "a" || *out.Tags[0].TagValue != "3" || out.Truncated {
		t.Fatalf("unexpected tags %+v", out.Tags)
	}
	_, err := env.kms.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String("alias/x"), Tags: []types.Tag{}})
	wantErr[*types.NotFoundException](t, err)
	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = types.Tag{TagKey: aws.String(fmt.Sprint(i)), TagValue: aws.String("")}
	}
	// The SDK retries LimitExceededException as throttling; once is enough.
	_, err = env.kms.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: many},
		func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	wantErr[*types.LimitExceededException](t, err)
}

func TestEnableDisableKey(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, nil)
	blob := must(env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")}))(t).CiphertextBlob
	must(env.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}))(t)
	md := must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t).KeyMetadata
	if md.Enabled || md.KeyState != types.KeyStateDisabled {
		t.Fatalf("disabled key reads %v %s", md.Enabled, md.KeyState)
	}
	_, err := env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantErr[*types.DisabledException](t, err)
	_, err = env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantErr[*types.DisabledException](t, err)
	_, err = env.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256})
	wantErr[*types.DisabledException](t, err)
	must(env.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k.Arn}))(t)
	must(env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}))(t)
}

func TestKeyRotation(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, nil)
	st := must(env.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId}))(t)
	if st.KeyRotationEnabled {
		t.Fatal("rotation enabled on a new key")
	}
	must(env.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(180)}))(t)
	st = must(env.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.Arn}))(t)
	if !st.KeyRotationEnabled || *st.RotationPeriodInDays != 180 || st.NextRotationDate == nil || *st.KeyId != *k.Arn {
		t.Fatalf("unexpected status %+v", st)
	}
	_, err := env.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(30)})
	wantCode(t, err, "ValidationException")
	must(env.kms.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: k.KeyId}))(t)
	if must(env.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId}))(t).KeyRotationEnabled {
		t.Fatal("rotation still enabled")
	}
	must(env.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}))(t)
	_, err = env.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId})
	wantErr[*types.DisabledException](t, err)

	ext := createKey(t, env, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	_, err = env.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: ext.KeyId})
	wantErr[*types.UnsupportedOperationException](t, err)
	_, err = env.kms.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: ext.KeyId})
	wantErr[*types.UnsupportedOperationException](t, err)
	_, err = env.kms.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: ext.KeyId})
	wantErr[*types.UnsupportedOperationException](t, err)
}

func TestEncryptDecrypt(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, nil)
	must(env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/enc"), TargetKeyId: k.KeyId}))(t)
	ec := map[string]string{"purpose": "test", "tenant": "a"}
	enc := must(env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/enc"), Plaintext: []byte("hello"), EncryptionContext: ec}))(t)
	if *enc.KeyId != *k.Arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("unexpected Encrypt output %+v", enc)
	}
	dec := must(env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))(t)
	if string(dec.Plaintext) != "hello" || *dec.KeyId != *k.Arn {
		t.Fatalf("Decrypt = %q from %s", dec.Plaintext, *dec.KeyId)
	}
	must(env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String("alias/enc")}))(t)

	_, err := env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "test"}})
	wantErr[*types.InvalidCiphertextException](t, err)
	_, err = env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantErr[*types.InvalidCiphertextException](t, err)
	tampered := slices.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
	wantErr[*types.InvalidCiphertextException](t, err)
	_, err = env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("garbage")})
	wantErr[*types.InvalidCiphertextException](t, err)
	other := createKey(t, env, nil)
	_, err = env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: other.KeyId})
	wantErr[*types.IncorrectKeyException](t, err)
	_, err = env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")
	_, err = env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantErr[*types.DryRunOperationException](t, err)
}

func TestGenerateDataKey(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, nil)
	ec := map[string]string{"k": "v"}
	for _, tc := range []struct {
		in   kms.GenerateDataKeyInput
		size int
	}{
		{kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(64)}, 64},
	} {
		in := tc.in
		in.KeyId, in.EncryptionContext = k.KeyId, ec
		out := must(env.kms.GenerateDataKey(ctx, &in))(t)
		if len(out.Plaintext) != tc.size || *out.KeyId != *k.Arn {
			t.Fatalf("GenerateDataKey gave %d bytes from %s, want %d", len(out.Plaintext), *out.KeyId, tc.size)
		}
		dec := must(env.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}))(t)
		if !bytes.Equal(dec.Plaintext, out.Plaintext) {
			t.Fatal("data key does not decrypt to its plaintext")
		}
	}
	_, err := env.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId})
	wantCode(t, err, "ValidationException")
	_, err = env.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)})
	wantCode(t, err, "ValidationException")
	_, err = env.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, "ValidationException")
}

func TestScheduleAndCancelKeyDeletion(t *testing.T) {
	env := newEnv(t)
	k := createKey(t, env, nil)
	must(env.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: k.KeyId}))(t)
	_, err := env.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(6)})
	wantCode(t, err, "ValidationException")
	out := must(env.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(7)}))(t)
	if out.KeyState != types.KeyStatePendingDeletion || *out.PendingWindowInDays != 7 || *out.KeyId != *k.Arn ||
		out.DeletionDate.Sub(env.now.t.Truncate(time.Millisecond)) != 7*24*time.Hour {
		t.Fatalf("unexpected ScheduleKeyDeletion output %+v", out)
	}
	md := must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t).KeyMetadata
	if md.KeyState != types.KeyStatePendingDeletion || md.DeletionDate == nil || *md.PendingDeletionWindowInDays != 7 {
		t.Fatalf("unexpected metadata %+v", md)
	}
	_, err = env.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantErr[*types.KMSInvalidStateException](t, err)
	_, err = env.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k.KeyId})
	wantErr[*types.KMSInvalidStateException](t, err)
	_, err = env.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId})
	wantErr[*types.KMSInvalidStateException](t, err)

	must(env.kms.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: k.KeyId}))(t)
	md = must(env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))(t).KeyMetadata
	if md.KeyState != types.KeyStateDisabled || md.DeletionDate != nil {
		t.Fatalf("cancelled deletion leaves %s", md.KeyState)
	}
	_, err = env.kms.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: k.KeyId})
	wantErr[*types.KMSInvalidStateException](t, err)

	must(env.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(7)}))(t)
	env.now.t = env.now.t.Add(7 * 24 * time.Hour)
	_, err = env.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	wantErr[*types.NotFoundException](t, err)
	if got := listAliases(t, env, nil); len(got) != 0 {
		t.Fatalf("aliases of a deleted key survive: %+v", got)
	}
}
