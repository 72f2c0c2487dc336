package envstep_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover/cutover/plan"
)

// TestMinIOLinkRequired: an env step that changes a MINIO_KMS_* variable
// without naming its MinIO deployment does not load, with a diagnostic at
// the step saying what to add; other env steps need no link. A kes block's
// keystore must not be another KES.
func TestMinIOLinkRequired(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`step "env" "kms" {
  files = ["minio.env"]
  unset = ["MINIO_KMS_SECRET_KEY"]
}`, "Missing minio"},
		{`step "env" "kms" {
  files   = ["minio.env"]
  comment = ["MINIO_KMS_KES_ENDPOINT"]
}`, "Add minio = minio.<name>"},
		{`step "env" "app" {
  files = ["app.env"]
  set   = { KMS_PROVIDER = "AWS" }
}`, ""},
		{`step "env" "kms" {
  minio = minio.prod
  files = ["minio.env"]
  unset = ["MINIO_KMS_SECRET_KEY"]
}`, ""},
		{`kms "kes2" {
  type     = "kes"
  endpoint = "https://127.0.0.1:7374"
  api_key  = "kes:v1:AHuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih"
  keystore = kms.kes
}`, "Invalid KES keystore"},
	} {
		dir := t.TempDir()
		src := `cutover "link" {}
minio "prod" {
  endpoint   = "http://127.0.0.1:9000"
  access_key = "admin"
  secret_key = "password"
}
kms "kes" {
  type     = "kes"
  endpoint = "https://127.0.0.1:7373"
  api_key  = "kes:v1:AHuVhurG3OZwzmqAsjDtzMX0c39v25IefOc/C/b78Gih"
}
` + tc.body + "\n"
		path := filepath.Join(dir, "plan.hcl")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, diags := plan.Load(path, plan.Options{Environ: []string{}})
		switch {
		case tc.want == "" && diags.HasErrors():
			t.Errorf("%s: %v", tc.body, diags)
		case tc.want != "" && !strings.Contains(diags.Error(), tc.want):
			t.Errorf("%s: diagnostics %v, want %q", tc.body, diags, tc.want)
		}
	}
}
