package validateobjects

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/cutover/cutover/plan"
)

// header declares the plan and a MinIO deployment for the step under test.
const header = `cutover "t" {}
minio "prod" {
  endpoint   = "http://127.0.0.1:9000"
  access_key = "admin"
  secret_key = "secret-secret"
}
`

// loadPlan writes src into a plan file and loads it.
func loadPlan(t *testing.T, src string, validating bool) (*plan.Plan, hcl.Diagnostics) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return plan.Load(path, plan.Options{Environ: []string{}, Validating: validating})
}

func TestDecodeDefaults(t *testing.T) {
	p, diags := loadPlan(t, header+`step "validate_objects" "head" {
  minio   = minio.prod
  buckets = ["crypt", "logs"]
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := p.Steps[0].Impl.(*Step)
	if s.All || s.SampleSize != DefaultSample || s.Bytes != DefaultBytes || s.Concurrency != DefaultConcurrency || s.Prefix != "" {
		t.Errorf("defaults: %+v", s.Config)
	}
	if s.Deployment == nil || s.Deployment.Describe() != "minio.prod at http://127.0.0.1:9000" {
		t.Errorf("deployment = %v", s.Deployment)
	}
	if p.Steps[0].Info.Kind.String() != "redo" || !p.Steps[0].Info.Idempotent {
		t.Errorf("step type = %+v, want an idempotent redo step", p.Steps[0].Info)
	}
}

func TestDecodeExplicit(t *testing.T) {
	p, diags := loadPlan(t, header+`step "validate_objects" "all" {
  minio       = minio.prod
  buckets     = ["crypt"]
  prefix      = "2024/"
  sample      = "all"
  bytes       = 1
  concurrency = 1
}`, false)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := p.Steps[0].Impl.(*Step)
	if !s.All || s.Bytes != 1 || s.Concurrency != 1 || s.Prefix != "2024/" {
		t.Errorf("config: %+v", s.Config)
	}
	if d := s.describe(); !strings.Contains(d, "every encrypted object") || !strings.Contains(d, `prefix "2024/"`) {
		t.Errorf("describe() = %q", d)
	}
}

func TestDecodeDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, body, summary, detail string
		line                        int // of the plan file
	}{
		{"missing minio", `buckets = ["b1c"]`, "Missing required argument", `"minio" is required`, 8},
		{"not a minio", "minio = var.x\n  buckets = [\"b1c\"]", "Invalid reference", "must refer to a minio block", 9},
		{"undeclared", "minio = minio.nope\n  buckets = [\"b1c\"]", "Reference to undeclared minio", "minio.nope, which is not declared", 9},
		{"missing buckets", `minio = minio.prod`, "Missing required argument", `"buckets" is required`, 8},
		{"no buckets", "minio = minio.prod\n  buckets = []", "No buckets", "at least one bucket", 10},
		{"bad bucket", "minio = minio.prod\n  buckets = [\"Bad_Bucket\"]", "Invalid bucket name", `"Bad_Bucket" is not a bucket name`, 10},
		{"duplicate bucket", "minio = minio.prod\n  buckets = [\"abc\", \"abc\"]", "Duplicate bucket", `"abc" is listed twice`, 10},
		{"negative sample", "minio = minio.prod\n  buckets = [\"abc\"]\n  sample = -1", "Invalid sample", `between 1 and 1073741824, or "all" to read every object; it is -1.`, 11},
		{"zero sample", "minio = minio.prod\n  buckets = [\"abc\"]\n  sample = 0", "Invalid sample", `sample = 0 no longer means every object. Write sample = "all"`, 11},
		{"fractional sample", "minio = minio.prod\n  buckets = [\"abc\"]\n  sample = 2.5", "Invalid sample", "it is 2.5.", 11},
		{"other word", "minio = minio.prod\n  buckets = [\"abc\"]\n  sample = \"every\"", "Invalid sample", `or "all" to read every object; it is "every".`, 11},
		{"zero bytes", "minio = minio.prod\n  buckets = [\"abc\"]\n  bytes = 0", "Invalid bytes", "between 1 and 1048576", 11},
		{"huge concurrency", "minio = minio.prod\n  buckets = [\"abc\"]\n  concurrency = 1000", "Invalid concurrency", "between 1 and 256", 11},
		{"unknown attribute", "minio = minio.prod\n  buckets = [\"abc\"]\n  versions = true", "Unsupported argument", `"versions" is not expected`, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := header + "variable \"x\" { default = \"y\" }\nstep \"validate_objects\" \"v\" {\n  " + tc.body + "\n}\n"
			_, diags := loadPlan(t, src, false)
			d := find(diags, tc.summary)
			if d == nil {
				t.Fatalf("no %q diagnostic in:\n%v", tc.summary, diags)
			}
			if !strings.Contains(d.Detail, tc.detail) || d.Subject == nil || d.Subject.Start.Line != tc.line {
				t.Errorf("diagnostic %q at %v, want detail containing %q on line %d", d.Detail, d.Subject, tc.detail, tc.line)
			}
		})
	}
}

// Under `cutover validate`, numbers and buckets from variables without a
// value are not checked.
func TestDecodeUnknownValues(t *testing.T) {
	_, diags := loadPlan(t, header+`variable "buckets" { type = list(string) }
variable "n" { type = number }
step "validate_objects" "v" {
  minio   = minio.prod
  buckets = var.buckets
  sample  = var.n
}`, true)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
}

func find(diags hcl.Diagnostics, summary string) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Summary == summary {
			return d
		}
	}
	return nil
}
