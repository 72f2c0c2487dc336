// Package validateobjects is the `validate_objects` step: prove that MinIO
// can decrypt its objects by reading the first bytes of each (a ranged GET,
// what `mc head` does). A HEAD (`mc stat`) proves nothing: MinIO answers it
// from metadata without unsealing the object key, and it passes even when
// the KMS holds a different key under the same name.
//
//	step "validate_objects" "head" {
//	  minio       = minio.prod
//	  buckets     = ["crypt"]
//	  prefix      = ""      # only objects under this prefix
//	  sample      = 1000    # encrypted objects to read, or "all" for every one
//	  bytes       = 64      # bytes read from the start of each object
//	  concurrency = 16      # reads at once
//	}
//
// Which objects count. Objects are listed (latest versions, every page)
// and classified:
//
//   - encrypted by the KMS (SSE-S3 or SSE-KMS), with at least one byte:
//     these are read and counted as read, and failed when the read fails;
//   - SSE-C objects (the client holds that key, not the KMS), unencrypted
//     objects and empty objects (whatever their encryption: MinIO decrypts
//     nothing to serve zero bytes, so reading one proves nothing) are not
//     proof, and are counted by kind;
//   - when the listing carries no metadata, the object is read and
//     classified by the GET's response headers.
//
// Nothing is skipped silently: after the reads the step logs one line per
// bucket, "bucket B: read N, encrypted N (SSE-S3 N, SSE-KMS N, SSE-C N
// skipped), unencrypted N, empty N, failed N; listed N", and its outputs
// count every kind. An object whose read failed before its encryption was
// known (see below) counts as failed only, and the line says how many
// did.
//
// How objects are listed. A sample is drawn from a listing with MinIO's
// metadata extension, so that it holds encrypted objects only. With
// sample = "all" the listing is plain, without metadata (MinIO spends far
// less CPU on it): empty objects are counted by their size, every other
// object is read and classified by the GET's response headers, so
// unencrypted objects cost a read too. MinIO refuses a GET of an SSE-C
// object without its key (status 400, code InvalidRequest, shared with
// other bad requests); such a refusal is confirmed by looking that one
// object up with the metadata extension, and the object is counted as
// SSE-C if the lookup says so, or failed with the GET's error if not.
//
// Sampling. With sample = N (at least 1), N encrypted objects are chosen
// uniformly over the whole listing (reservoir sampling with a fixed seed:
// the same listing gives the same sample), holding at most N names in
// memory whatever the number of objects; the reads start once the listing
// ends. With sample = "all", every encrypted object is read while the
// listing streams. sample = 0, which read every object before, is refused
// with a hint to write "all": reading everything is spelled out. Either
// way at most `concurrency` reads run at once.
//
// Reads carry minio.FreezeBypassHeader, so the step works while a drain
// holds clients. Every failing object and its reason go to the step's log;
// the step's error counts them and names the first 20 in name order.
// Outputs: checked (encrypted objects read), failed, skipped (everything
// listed and not read as proof), unencrypted, ssec, empty. In a rollback the step runs again
// (phase 2), to prove the old KMS reads everything.
package validateobjects

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cutover/cutover/internal/hcldecode"
	"github.com/cutover/cutover/providers/minio"
	"github.com/cutover/cutover/steps"
)

func init() {
	steps.Register(steps.Type{Name: "validate_objects", Doc: "Proves that MinIO can decrypt its objects by reading the first bytes of each encrypted object (a ranged GET, what mc head does; a HEAD proves nothing). Logs per bucket what was read, skipped and failed.", Config: &Config{}, Kind: steps.KindRedo, Idempotent: true, Decode: decode})
}

// Defaults and limits of the step's attributes.
const (
	DefaultSample = 1000
	MaxSample     = 1 << 30
	// SampleAll is the value of sample that reads every object.
	SampleAll          = "all"
	DefaultBytes       = 64
	DefaultConcurrency = 16
	MaxBytes           = 1 << 20
	MaxConcurrency     = 256
)

// Config is the body of a validate_objects step.
type Config struct {
	MinIO       hcl.Expression `hcl:"minio" type:"reference to minio.<name>" doc:"The deployment whose objects are read."`
	Buckets     []string       `hcl:"buckets" doc:"The buckets listed, in this order."`
	Prefix      string         `hcl:"prefix,optional" doc:"Only objects under this prefix."`
	Sample      hcl.Expression `hcl:"sample,optional" type:"number or \"all\"" default:"1000" doc:"How many encrypted objects to read, or \"all\" for every one."`
	Bytes       int            `hcl:"bytes,optional" default:"64" doc:"Bytes read from the start of each object, up to 1 MiB."`
	Concurrency int            `hcl:"concurrency,optional" default:"16" doc:"Reads at once, up to 256."`
}

// Step reads encrypted objects of a MinIO deployment.
type Step struct {
	Config
	// All is true when every object is read (sample = "all").
	All bool
	// SampleSize is the number of encrypted objects sampled when All is
	// false.
	SampleSize int
	// Deployment is the MinIO the objects are read from; nil only when its
	// block has errors.
	Deployment *minio.Config
	// last is the most recent run, for tests.
	last *run
}

func decode(body hcl.Body, dc *hcldecode.Context) (steps.Step, hcl.Diagnostics) {
	s := &Step{}
	diags := dc.DecodeBody(body, &s.Config)
	if diags.HasErrors() {
		return s, diags
	}
	attrs := hcldecode.Attributes(body, &s.Config)
	diags = append(diags, s.defaults(attrs, dc)...)
	diags = append(diags, checkBuckets(s.Buckets, attrs["buckets"], dc)...)
	cfg, d := minio.Resolve(dc, s.MinIO, "minio")
	s.Deployment = cfg
	return s, append(diags, d...)
}

// defaults fills in unset numbers and checks the set ones.
func (s *Step) defaults(attrs hcl.Attributes, dc *hcldecode.Context) hcl.Diagnostics {
	var diags hcl.Diagnostics
	num := func(name string, v *int, def, lo, hi int, what string) {
		a := attrs[name]
		if a == nil {
			*v = def
			return
		}
		if dc.Known(a) && (*v < lo || *v > hi) {
			diags = append(diags, hcldecode.AttrError("Invalid "+name, fmt.Sprintf("%s must be %s, between %d and %d; it is %d.", name, what, lo, hi, *v), a))
		}
	}
	diags = append(diags, s.decodeSample(attrs["sample"], dc)...)
	num("bytes", &s.Bytes, DefaultBytes, 1, MaxBytes, "the number of bytes read from each object")
	num("concurrency", &s.Concurrency, DefaultConcurrency, 1, MaxConcurrency, "the number of reads at once")
	return diags
}

// decodeSample reads sample: a number of objects from 1 up, or "all".
// The old spelling of "all", 0, is refused with a hint.
func (s *Step) decodeSample(a *hcl.Attribute, dc *hcldecode.Context) hcl.Diagnostics {
	s.SampleSize = DefaultSample
	if a == nil || !dc.Known(a) {
		return nil
	}
	v, diags := dc.Value(a.Expr)
	if diags.HasErrors() {
		return diags
	}
	if v.Type() == cty.String && v.AsString() == SampleAll {
		s.All, s.SampleSize = true, 0
		return nil
	}
	nv, err := convert.Convert(v, cty.Number)
	if err != nil {
		return hcl.Diagnostics{hcldecode.AttrError("Invalid sample", fmt.Sprintf("sample must be a number of objects to read, or %q to read every object; it is %s.", SampleAll, ctyString(v)), a)}
	}
	n, acc := nv.AsBigFloat().Int64()
	switch {
	case acc == big.Exact && n == 0:
		return hcl.Diagnostics{hcldecode.AttrError("Invalid sample", fmt.Sprintf("sample = 0 no longer means every object. Write sample = %q to read every object, or a number of objects (at least 1) to read a sample.", SampleAll), a)}
	case acc != big.Exact || n < 1 || n > MaxSample:
		return hcl.Diagnostics{hcldecode.AttrError("Invalid sample", fmt.Sprintf("sample must be a whole number of objects between 1 and %d, or %q to read every object; it is %s.", MaxSample, SampleAll, ctyString(v)), a)}
	}
	s.SampleSize = int(n)
	return nil
}

// ctyString shows a primitive value as the plan would spell it.
func ctyString(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	}
	return v.Type().FriendlyName()
}

// checkBuckets requires at least one bucket, valid names, no duplicates.
func checkBuckets(buckets []string, a *hcl.Attribute, dc *hcldecode.Context) hcl.Diagnostics {
	if !dc.Known(a) {
		return nil
	}
	if len(buckets) == 0 {
		return hcl.Diagnostics{hcldecode.AttrError("No buckets", "buckets must name at least one bucket to read objects from.", a)}
	}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, b := range buckets {
		if err := s3utils.CheckValidBucketNameStrict(b); err != nil {
			diags = append(diags, hcldecode.AttrError("Invalid bucket name", fmt.Sprintf("%q is not a bucket name: %s.", b, strings.TrimSuffix(err.Error(), ".")), a))
		}
		if seen[b] {
			diags = append(diags, hcldecode.AttrError("Duplicate bucket", fmt.Sprintf("%q is listed twice in buckets.", b), a))
		}
		seen[b] = true
	}
	return diags
}

// describe says what Apply reads.
func (s *Step) describe() string {
	what := fmt.Sprintf("up to %d sampled encrypted objects", s.SampleSize)
	if s.All {
		what = "every encrypted object"
	}
	where := strings.Join(s.Buckets, ", ")
	if s.Prefix != "" {
		where += fmt.Sprintf(" under prefix %q", s.Prefix)
	}
	return fmt.Sprintf("read the first %d bytes of %s in %s, %d at once", s.Bytes, what, where, s.Concurrency)
}

// Plan checks the deployment answers and every bucket exists (read-only),
// and says what Apply reads.
func (s *Step) Plan(ctx context.Context, rt steps.Runtime) ([]steps.Action, error) {
	if s.Deployment == nil {
		return nil, errNoDeployment
	}
	info, err := s.Deployment.ServerInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("preflight %s: %w", s.Deployment.Describe(), err)
	}
	if err := s.checkBucketsExist(ctx); err != nil {
		return nil, err
	}
	return []steps.Action{{Summary: s.describe(), Details: []string{
		"now: " + s.Deployment.Describe() + ", " + info.String(),
		"a ranged GET makes MinIO unseal each object's key through the KMS; a HEAD would not",
		"SSE-C, unencrypted and empty objects prove nothing: they are counted and reported, one line per bucket"}}}, nil
}

// Apply reads the objects and fails, naming them, if any is unreadable.
func (s *Step) Apply(ctx context.Context, rt steps.Runtime) error {
	if s.Deployment == nil {
		return errNoDeployment
	}
	r, err := s.newRun(ctx, rt)
	if err != nil {
		return err
	}
	s.last = r
	err = r.execute(ctx)
	r.report(rt)
	return err
}

// Undo does nothing: a check is redone in phase 2, never undone.
func (s *Step) Undo(ctx context.Context, rt steps.Runtime) error { return nil }
