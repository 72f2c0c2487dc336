package envfile

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	old := mustParse(t, "A=1\nB=2\nC=3\n# D=4\nE=5\nF=6\n")
	cur := mustParse(t, "A=1\nB='9'\n# C=3\n# D=4\nG=7\n  F = 6  \nH=\n")
	want := []Change{
		{Key: "B", Op: Changed, Old: "2", New: "9", HadOld: true, HasNew: true},
		{Key: "C", Op: Commented, Old: "3", HadOld: true},
		{Key: "E", Op: Removed, Old: "5", HadOld: true},
		{Key: "G", Op: Added, New: "7", HasNew: true},
		{Key: "H", Op: Added, New: "", HasNew: true},
	}
	if got := Diff(old, cur); !reflect.DeepEqual(got, want) {
		t.Errorf("Diff() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDiffCommentedNeedsNewComment(t *testing.T) {
	// The old file already had "# A=0"; removing A is a removal, not a comment.
	old := mustParse(t, "# A=0\nA=1\n")
	cur := mustParse(t, "# A=0\n")
	got := Diff(old, cur)
	if len(got) != 1 || got[0].Op != Removed {
		t.Errorf("Diff() = %+v, want one Removed", got)
	}
}

func TestDiffAfterEdits(t *testing.T) {
	old := mustParse(t, "MINIO_KMS_KES_ENDPOINT=https://kes:7373\nMINIO_KMS_KES_API_KEY=kes:v1:abc\nMINIO_VOLUMES=/data\n")
	cur := old.Clone()
	cur.Comment("MINIO_KMS_KES_ENDPOINT")
	cur.Comment("MINIO_KMS_KES_API_KEY")
	cur.Set("MINIO_KMS_SERVER", "https://kms:7373")
	cur.Set("MINIO_KMS_API_KEY", "k1:secret")
	var lines []string
	for _, c := range Diff(old, cur) {
		lines = append(lines, c.Render(LooksSecret))
	}
	want := []string{
		"# MINIO_KMS_KES_ENDPOINT (commented out)",
		"# MINIO_KMS_KES_API_KEY (commented out)",
		`+ MINIO_KMS_SERVER = "https://kms:7373"`,
		"+ MINIO_KMS_API_KEY = (sensitive)",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("rendered diff =\n%q\nwant\n%q", lines, want)
	}
	if Diff(old, old.Clone()) != nil {
		t.Error("Diff of identical files is not empty")
	}
}

func TestDiffNil(t *testing.T) {
	f := mustParse(t, "A=1\n")
	if got := Diff(nil, f); len(got) != 1 || got[0].Op != Added {
		t.Errorf("Diff(nil, f) = %+v", got)
	}
	if got := Diff(f, nil); len(got) != 1 || got[0].Op != Removed {
		t.Errorf("Diff(f, nil) = %+v", got)
	}
}

func TestRender(t *testing.T) {
	never := func(string) bool { return false }
	always := func(string) bool { return true }
	tests := []struct {
		c    Change
		mask func(string) bool
		want string
	}{
		{Change{Key: "A", Op: Added, New: "new", HasNew: true}, never, `+ A = "new"`},
		{Change{Key: "A", Op: Added, New: "new", HasNew: true}, always, `+ A = (sensitive)`},
		{Change{Key: "A", Op: Changed, Old: "old", New: "new", HadOld: true, HasNew: true}, never, `~ A = "old" -> "new"`},
		{Change{Key: "A", Op: Changed, Old: "old", New: "new", HadOld: true, HasNew: true}, always, `~ A = (sensitive) -> (sensitive)`},
		{Change{Key: "A", Op: Removed, Old: "old", HadOld: true}, never, `- A`},
		{Change{Key: "A", Op: Commented, Old: "old", HadOld: true}, never, `# A (commented out)`},
		{Change{Key: "A", Op: Added, New: "a\"b\n\x1b[31m", HasNew: true}, never, `+ A = "a\"b\n\x1b[31m"`},
		{Change{Key: "MINIO_ROOT_PASSWORD", Op: Added, New: "pw", HasNew: true}, nil, `+ MINIO_ROOT_PASSWORD = (sensitive)`},
		{Change{Key: "AWS_REGION", Op: Added, New: "eu-west-1", HasNew: true}, nil, `+ AWS_REGION = "eu-west-1"`},
	}
	for _, tt := range tests {
		if got := tt.c.Render(tt.mask); got != tt.want {
			t.Errorf("Render(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestChangeOpString(t *testing.T) {
	want := map[ChangeOp]string{Added: "added", Changed: "changed", Removed: "removed", Commented: "commented", 0: "ChangeOp(0)"}
	for op, s := range want {
		if op.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(op), op.String(), s)
		}
	}
}

func TestLooksSecret(t *testing.T) {
	secret := []string{
		"MINIO_KMS_SECRET_KEY", "MINIO_KMS_KES_API_KEY", "JWT_ECDSA_KEY", "AWS_SECRET_ACCESS_KEY",
		"MINIO_ROOT_PASSWORD", "MINIO_KMS_API_KEY", "MINIO_KMS_KES_KEY_PASSWORD", "VAULT_TOKEN",
		"AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET", "VAULT_APPROLE_SECRET_ID", "DB_PASSWD", "DB_PASS",
		"GOOGLE_APPLICATION_CREDENTIALS", "TLS_PRIVATE_KEY", "minio_root_password", "MyApiKey",
		"MINIO_KMS_SECRET_KEY_FILE", "BASIC_AUTH", "SESSION_COOKIE", "DATABASE_DSN", "TLS_CERT",
		"KEY", "MINIO_ACCESS_KEY", "KMS_KEY_ARN_SECRET", "SSE_KEY",
	}
	public := []string{
		"KMS_PROVIDER", "AWS_REGION", "MINIO_KMS_KES_ENDPOINT", "AWS_KMS_KEY_ARN", "MINIO_KMS_KES_KEY_NAME",
		"AWS_ACCESS_KEY_ID", "MINIO_KMS_KES_KEY_FILE", "MINIO_KMS_KES_CERT_FILE", "MINIO_KMS_KES_CAPATH",
		"VAULT_ADDR", "MINIO_VOLUMES", "MINIO_OPTS", "AZURE_CLIENT_ID", "GCP_KEY_PATH", "KMS_KEY_ALIAS",
		"aws_kms_key_arn", "",
	}
	for _, k := range secret {
		if !LooksSecret(k) {
			t.Errorf("LooksSecret(%q) = false, want true", k)
		}
	}
	for _, k := range public {
		if LooksSecret(k) {
			t.Errorf("LooksSecret(%q) = true, want false", k)
		}
	}
}
