package awsemu

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// listSecrets lists with the SDK paginator and counts the pages.
func listSecrets(t *testing.T, env *testEnv, in *secretsmanager.ListSecretsInput) ([]types.SecretListEntry, int) {
	t.Helper()
	var out []types.SecretListEntry
	pages := 0
	p := secretsmanager.NewListSecretsPaginator(env.sm, in)
	for p.HasMorePages() {
		page := must(p.NextPage(ctx))(t)
		pages++
		out = append(out, page.SecretList...)
	}
	return out, pages
}

func TestListSecretsPaginates(t *testing.T) {
	env := newEnv(t)
	for i := range 250 {
		name := fmt.Sprintf("app/%03d", i)
		if i%10 == 0 {
			name = fmt.Sprintf("other/%03d", i)
		}
		createSecret(t, env, name, "v")
	}
	all, pages := listSecrets(t, env, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100)})
	if len(all) != 250 || pages != 3 {
		t.Fatalf("got %d secrets over %d pages, want 250 over 3", len(all), pages)
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[*s.Name] || s.ARN == nil || s.CreatedDate == nil || len(s.SecretVersionsToStages) != 1 {
			t.Fatalf("duplicate or incomplete entry %+v", s)
		}
		seen[*s.Name] = true
	}
	apps, _ := listSecrets(t, env, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100),
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"app/"}}}})
	others, _ := listSecrets(t, env, &secretsmanager.ListSecretsInput{
		Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"!app/"}}}})
	if len(apps) != 225 || len(others) != 25 {
		t.Fatalf("name filters give %d and %d, want 225 and 25", len(apps), len(others))
	}
	byName, _ := listSecrets(t, env, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(7),
		SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeDesc})
	if len(byName) != 250 || *byName[0].Name != "other/240" || *byName[249].Name != "app/001" {
		t.Fatalf("name-descending list runs %s .. %s", *byName[0].Name, *byName[249].Name)
	}
}

func TestListSecretsPagesAreStable(t *testing.T) {
	env := newEnv(t)
	for i := range 10 {
		createSecret(t, env, fmt.Sprintf("s%02d", i), "v")
	}
	first := must(env.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(4), SortBy: types.SortByTypeName}))(t)
	// Deleting an already listed secret must not shift the next page.
	must(env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s00"), ForceDeleteWithoutRecovery: aws.Bool(true)}))(t)
	second := must(env.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(4),
		SortBy: types.SortByTypeName, NextToken: first.NextToken}))(t)
	if *second.SecretList[0].Name != "s04" {
		t.Fatalf("second page starts at %s, want s04", *second.SecretList[0].Name)
	}
	_, err := env.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: first.NextToken})
	wantErr[*types.InvalidNextTokenException](t, err)
}

func TestListSecretsFiltersAndDeleted(t *testing.T) {
	env := newEnv(t)
	must(env.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("a"), SecretString: aws.String("v"),
		Description: aws.String("Payments DB"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("pay")}}}))(t)
	createSecret(t, env, "b", "v")
	must(env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("b")}))(t)
	for _, tc := range []struct {
		filter types.Filter
		want   int
	}{
		{types.Filter{Key: types.FilterNameStringTypeDescription, Values: []string{"payments"}}, 1},
		{types.Filter{Key: types.FilterNameStringTypeTagKey, Values: []string{"te"}}, 1},
		{types.Filter{Key: types.FilterNameStringTypeTagValue, Values: []string{"Pay"}}, 0},
		{types.Filter{Key: types.FilterNameStringTypeAll, Values: []string{"db"}}, 1},
		{types.Filter{Key: types.FilterNameStringTypeName, Values: []string{"b", "a"}}, 1},
	} {
		got, _ := listSecrets(t, env, &secretsmanager.ListSecretsInput{Filters: []types.Filter{tc.filter}})
		if len(got) != tc.want {
			t.Fatalf("filter %s %v matched %d, want %d", tc.filter.Key, tc.filter.Values, len(got), tc.want)
		}
	}
	all, _ := listSecrets(t, env, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if len(all) != 2 {
		t.Fatalf("IncludePlannedDeletion lists %d, want 2", len(all))
	}
	_, err := env.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(101)})
	wantCode(t, err, "ValidationException")
}
