package awsemu

import (
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

var secretARNPattern = regexp.MustCompile(`^arn:aws:secretsmanager:` + testRegion + `:` + testAccount + `:secret:(.+)-[A-Za-z0-9]{6}$`)

func createSecret(t *testing.T, env *testEnv, name, value string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	return must(env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}))(t)
}

func getSecret(t *testing.T, env *testEnv, in *secretsmanager.GetSecretValueInput) *secretsmanager.GetSecretValueOutput {
	t.Helper()
	return must(env.sm.GetSecretValue(ctx, in))(t)
}

func TestCreateAndGetSecret(t *testing.T) {
	env := newEnv(t)
	out := must(env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("prod/db/password"), SecretString: aws.String("s3cr3t"), Description: aws.String("db"),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
	}))(t)
	if m := secretARNPattern.FindStringSubmatch(*out.ARN); m == nil || m[1] != "prod/db/password" {
		t.Fatalf("bad ARN %s", *out.ARN)
	}
	if *out.Name != "prod/db/password" || out.VersionId == nil {
		t.Fatalf("unexpected CreateSecret output %+v", out)
	}
	partial := (*out.ARN)[:len(*out.ARN)-7]
	for _, id := range []string{"prod/db/password", *out.ARN, partial} {
		got := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if *got.SecretString != "s3cr3t" || *got.ARN != *out.ARN || *got.VersionId != *out.VersionId ||
			!slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) || got.CreatedDate == nil {
			t.Fatalf("GetSecretValue(%s) = %+v", id, got)
		}
	}
	bin := must(env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2}}))(t)
	got := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: bin.ARN})
	if got.SecretString != nil || string(got.SecretBinary) != "\x00\x01\x02" {
		t.Fatalf("binary secret reads %+v", got)
	}
}

func TestSecretErrors(t *testing.T) {
	env := newEnv(t)
	createSecret(t, env, "dup", "v")
	_, err := env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("dup"), SecretString: aws.String("v")})
	wantErr[*types.ResourceExistsException](t, err)
	_, err = env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	wantErr[*types.ResourceNotFoundException](t, err)
	_, err = env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String("arn:aws:secretsmanager:" + testRegion + ":" + testAccount + ":secret:dup-XXXXXX")})
	wantErr[*types.ResourceNotFoundException](t, err)
	_, err = env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(string(make([]byte, 2049)))})
	wantCode(t, err, "ValidationException")
	_, err = env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bad name!"), SecretString: aws.String("v")})
	wantErr[*types.InvalidParameterException](t, err)
	_, err = env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("v"), SecretBinary: []byte("v")})
	wantErr[*types.InvalidParameterException](t, err)
	_, err = env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("dup")})
	wantErr[*types.InvalidRequestException](t, err)
	_, err = env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("dup"), VersionStage: aws.String("AWSPREVIOUS")})
	wantErr[*types.ResourceNotFoundException](t, err)
}

func TestSecretWithoutValue(t *testing.T) {
	env := newEnv(t)
	out := must(env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")}))(t)
	if out.VersionId != nil {
		t.Fatalf("valueless secret has version %s", *out.VersionId)
	}
	_, err := env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
	wantErr[*types.ResourceNotFoundException](t, err)
	must(env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("empty"),
		SecretString: aws.String("v"), VersionStages: []string{"CUSTOM"}}))(t)
	got := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
	if *got.SecretString != "v" || !slices.Contains(got.VersionStages, "AWSCURRENT") {
		t.Fatalf("first version is %+v, want it AWSCURRENT", got)
	}
}

func TestPutSecretValueMovesStages(t *testing.T) {
	env := newEnv(t)
	v1 := *createSecret(t, env, "rot", "one").VersionId
	put := must(env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("rot"), SecretString: aws.String("two")}))(t)
	v2 := *put.VersionId
	if !slices.Equal(put.VersionStages, []string{"AWSCURRENT"}) {
		t.Fatalf("new version stages %v", put.VersionStages)
	}
	cur := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rot")})
	prev := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rot"), VersionStage: aws.String("AWSPREVIOUS")})
	byID := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rot"), VersionId: aws.String(v1)})
	if *cur.SecretString != "two" || *cur.VersionId != v2 || *prev.SecretString != "one" || *prev.VersionId != v1 || *byID.SecretString != "one" {
		t.Fatalf("current %s/%s previous %s/%s", *cur.SecretString, *cur.VersionId, *prev.SecretString, *prev.VersionId)
	}
	_, err := env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rot"),
		VersionId: aws.String(v1), VersionStage: aws.String("AWSCURRENT")})
	wantErr[*types.ResourceNotFoundException](t, err)

	// A third value leaves v1 without stages; DescribeSecret lists staged versions only.
	must(env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("rot"), SecretString: aws.String("three")}))(t)
	d := must(env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("rot")}))(t)
	if len(d.VersionIdsToStages) != 2 || !slices.Equal(d.VersionIdsToStages[v2], []string{"AWSPREVIOUS"}) {
		t.Fatalf("VersionIdsToStages %v", d.VersionIdsToStages)
	}
}

func TestClientRequestTokenIdempotency(t *testing.T) {
	env := newEnv(t)
	token := "11111111-2222-3333-4444-555555555555"
	in := &secretsmanager.CreateSecretInput{Name: aws.String("idem"), SecretString: aws.String("v"), ClientRequestToken: aws.String(token)}
	first := must(env.sm.CreateSecret(ctx, in))(t)
	again := must(env.sm.CreateSecret(ctx, in))(t)
	if *first.VersionId != token || *again.ARN != *first.ARN {
		t.Fatalf("retried CreateSecret gave %+v, first %+v", again, first)
	}
	put := &secretsmanager.PutSecretValueInput{SecretId: aws.String("idem"), SecretString: aws.String("w"),
		ClientRequestToken: aws.String("66666666-2222-3333-4444-555555555555")}
	must(env.sm.PutSecretValue(ctx, put))(t)
	must(env.sm.PutSecretValue(ctx, put))(t)
	d := must(env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("idem")}))(t)
	if len(d.VersionIdsToStages) != 2 {
		t.Fatalf("retried PutSecretValue made versions %v", d.VersionIdsToStages)
	}
	put.SecretString = aws.String("different")
	_, err := env.sm.PutSecretValue(ctx, put)
	wantErr[*types.ResourceExistsException](t, err)
	_, err = env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("idem"),
		SecretString: aws.String("x"), ClientRequestToken: aws.String("short")})
	wantCode(t, err, "ValidationException")
}

func TestDescribeAndUpdateSecret(t *testing.T) {
	env := newEnv(t)
	created := must(env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("upd"), SecretString: aws.String("a"),
		Description: aws.String("before"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}))(t)
	getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("upd")})
	d := must(env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: created.ARN}))(t)
	if *d.Description != "before" || len(d.Tags) != 1 || *d.Tags[0].Key != "k" || d.CreatedDate == nil ||
		d.LastChangedDate == nil || d.LastAccessedDate == nil || d.DeletedDate != nil {
		t.Fatalf("unexpected DescribeSecret output %+v", d)
	}
	env.now.t = env.now.t.Add(time.Hour)
	up := must(env.sm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String("upd"),
		Description: aws.String("after"), SecretString: aws.String("b"), KmsKeyId: aws.String("alias/custom")}))(t)
	if up.VersionId == nil || *up.ARN != *created.ARN {
		t.Fatalf("unexpected UpdateSecret output %+v", up)
	}
	d2 := must(env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("upd")}))(t)
	if *d2.Description != "after" || *d2.KmsKeyId != "alias/custom" || !d2.LastChangedDate.After(*d.LastChangedDate) {
		t.Fatalf("unexpected DescribeSecret after update %+v", d2)
	}
	if got := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("upd")}); *got.SecretString != "b" {
		t.Fatalf("updated value reads %s", *got.SecretString)
	}
	desc := must(env.sm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String("upd"), Description: aws.String("only")}))(t)
	if desc.VersionId != nil {
		t.Fatal("description-only update made a version")
	}
}

func TestDeleteAndRestoreSecret(t *testing.T) {
	env := newEnv(t)
	created := createSecret(t, env, "gone", "v")
	_, err := env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone"),
		RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantErr[*types.InvalidParameterException](t, err)
	_, err = env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(3)})
	wantCode(t, err, "ValidationException")
	del := must(env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7)}))(t)
	if *del.ARN != *created.ARN || del.DeletionDate.Sub(env.now.t.Truncate(time.Millisecond)) != 7*24*time.Hour {
		t.Fatalf("unexpected DeleteSecret output %+v", del)
	}
	_, err = env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("gone")})
	wantErr[*types.InvalidRequestException](t, err)
	_, err = env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("gone"), SecretString: aws.String("x")})
	wantErr[*types.InvalidRequestException](t, err)
	_, err = env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("v")})
	wantErr[*types.InvalidRequestException](t, err)
	d := must(env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("gone")}))(t)
	if d.DeletedDate == nil {
		t.Fatal("DescribeSecret of a deleted secret has no DeletedDate")
	}
	must(env.sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("gone")}))(t)
	if got := getSecret(t, env, &secretsmanager.GetSecretValueInput{SecretId: aws.String("gone")}); *got.SecretString != "v" {
		t.Fatal("restored secret lost its value")
	}

	must(env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7)}))(t)
	env.now.t = env.now.t.Add(7 * 24 * time.Hour)
	_, err = env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("gone")})
	wantErr[*types.ResourceNotFoundException](t, err)

	createSecret(t, env, "forced", "v")
	must(env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("forced"), ForceDeleteWithoutRecovery: aws.Bool(true)}))(t)
	_, err = env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("forced")})
	wantErr[*types.ResourceNotFoundException](t, err)
	createSecret(t, env, "forced", "reused")
}

func TestConcurrentCreateSecret(t *testing.T) {
	env := newEnv(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("race"), SecretString: aws.String("v")})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		var exists *types.ResourceExistsException
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &exists):
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent CreateSecret calls succeeded, want 1", ok)
	}
}
