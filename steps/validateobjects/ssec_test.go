package validateobjects

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/cutover/cutover/internal/testing/steptest"
	"github.com/cutover/cutover/internal/testing/testenv"
)

// startTLSMinIO is startMinIO over TLS: MinIO refuses SSE-C request
// headers over plain http. The step's deployment trusts the server's CA
// through CAFile, as a plan's minio block does through ca_file.
func startTLSMinIO(t testing.TB, key []byte) *server {
	t.Helper()
	return startMinIOWith(t, testenv.MinIOOptions{TLS: true, KMSEnv: testenv.StaticKeyEnv(keyName, key)})
}

// putSSEC uploads n small SSE-C objects named by format and 0..n-1, each
// under its own random customer key; the server must speak TLS.
func (s *server) putSSEC(t testing.TB, bucket, format string, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf(format, i)
		sse, err := encrypt.NewSSEC(randomKey(t))
		must(t, "sse-c key", err)
		data := strings.Repeat(name+"\n", 3)
		_, err = s.s3.PutObject(context.Background(), bucket, name, strings.NewReader(data), int64(len(data)),
			miniogo.PutObjectOptions{ServerSideEncryption: sse})
		must(t, "put SSE-C "+bucket+"/"+name, err)
	}
}

// mixedBucket fills bucket "mixed" (no default encryption) with
// encrypted, unencrypted, empty and SSE-C objects, on a MinIO over TLS,
// and returns how many are encrypted (SSE-S3 or SSE-KMS, non-empty).
func mixedBucket(t *testing.T) (*server, int64) {
	s := startTLSMinIO(t, randomKey(t))
	s.bucket(t, "mixed", false)
	s.put(t, "mixed", "s3-%03d", 40, true)
	s.putKMS(t, "mixed", "kms-%02d", 10)
	s.put(t, "mixed", "plain-%02d", 15, false)
	for i, sse := range []encrypt.ServerSide{nil, nil, nil, encrypt.NewSSE(), encrypt.NewSSE()} {
		_, err := s.s3.PutObject(context.Background(), "mixed", fmt.Sprintf("empty-%d", i), strings.NewReader(""), 0,
			miniogo.PutObjectOptions{ServerSideEncryption: sse})
		must(t, "put empty", err)
	}
	// c-1 is a prefix of c-10 and c-11: the lookup must take the exact key.
	s.putSSEC(t, "mixed", "c-%d", 12)
	return s, 50
}

// The skip details of a run over the mixed bucket, and its line: both
// listings count the same objects the same way (an empty object is empty
// whatever its encryption), whether the listing or the read classified
// them.
const (
	mixedSkips = "skipped 32 (15 unencrypted, 12 SSE-C, 5 empty)"
	mixedLine  = "encrypted 62 (SSE-S3 40, SSE-KMS 10, SSE-C 12 skipped), unencrypted 15, empty 5, failed 0; listed 82"
)

// checkLine requires exactly one line about bucket in the step's reports
// and log, and that it holds want.
func checkLine(t *testing.T, rt *steptest.Runtime, bucket, want string) {
	t.Helper()
	var lines []string
	for _, l := range rt.Logs {
		if strings.HasPrefix(l, "bucket "+bucket+": ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("lines about bucket %s = %q, want one holding %q", bucket, lines, want)
	}
	if len(lines) == 1 && !strings.Contains(rt.Text(), lines[0]+"\n") {
		t.Errorf("the step's log lacks %q:\n%.500s", lines[0], rt.Text())
	}
}

// Reading every object (sample = "all") lists without metadata: every
// non-empty object is read and classified by its GET, MinIO's refusal to
// serve an SSE-C object without its key is confirmed by a lookup and
// skipped, not failed; the same holds while a freeze holds clients.
func TestEveryObjectMixedBucket(t *testing.T) {
	s, encrypted := mixedBucket(t)
	reads := countReads(t, 0)
	step := s.step(all, 8, "mixed")
	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate the mixed bucket", step.Apply(context.Background(), rt))
	checkOutputs(t, rt, int(encrypted), 0, 32)
	if !strings.Contains(rt.Summary, "all readable; "+mixedSkips) {
		t.Errorf("summary = %q", rt.Summary)
	}
	checkLine(t, rt, "mixed", "bucket mixed: read 50, "+mixedLine)
	for k, v := range map[string]string{"unencrypted": "15", "ssec": "12", "empty": "5"} {
		if rt.Outputs[k] != v {
			t.Errorf("output %s = %q, want %s", k, rt.Outputs[k], v)
		}
	}
	if reads.Load() != encrypted+15+12 {
		t.Errorf("reads = %d, want %d: every non-empty object (the listing is plain)", reads.Load(), encrypted+15+12)
	}
	if text := rt.Text(); strings.Contains(text, "unreadable") {
		t.Errorf("the step's log names failures:\n%.500s", text)
	}

	ctx := context.Background()
	must(t, "freeze", s.cfg.Freeze(ctx))
	must(t, "frozen", s.cfg.ConfirmFrozen(ctx))
	defer s.cfg.Thaw(ctx)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rt = steptest.NewRuntime("validate_objects.test")
	must(t, "validate the mixed bucket while frozen", step.Apply(tctx, rt))
	checkOutputs(t, rt, int(encrypted), 0, 32)
}

// A sample is drawn from the metadata listing: it holds encrypted
// objects only, and the others are skipped by the listing, unread.
func TestSampleMixedBucket(t *testing.T) {
	s, encrypted := mixedBucket(t)
	reads := countReads(t, 0)
	step := s.step(20, 8, "mixed")
	rt := steptest.NewRuntime("validate_objects.test")
	must(t, "validate a sample of the mixed bucket", step.Apply(context.Background(), rt))
	checkOutputs(t, rt, 20, 0, 32)
	res := step.last.res
	if reads.Load() != 20 || res.seen != encrypted || len(res.items) != 20 {
		t.Errorf("reads = %d, sample of %d drawn from %d; want 20 drawn from the %d encrypted objects", reads.Load(), len(res.items), res.seen, encrypted)
	}
	for _, o := range res.items {
		if !o.class.encrypted() || !(strings.HasPrefix(o.Key, "s3-") || strings.HasPrefix(o.Key, "kms-")) {
			t.Errorf("sampled %s (class %d), not an encrypted object", o.Key, o.class)
		}
	}
	if !strings.Contains(rt.Summary, mixedSkips) {
		t.Errorf("summary = %q", rt.Summary)
	}
	checkLine(t, rt, "mixed", "bucket mixed: read 20 (sample), "+mixedLine)

	reads.Store(0)
	rt = steptest.NewRuntime("validate_objects.test")
	must(t, "validate a sample larger than the mixed bucket", s.step(1000, 8, "mixed").Apply(context.Background(), rt))
	checkOutputs(t, rt, int(encrypted), 0, 32)
	if reads.Load() != encrypted {
		t.Errorf("reads = %d, want the %d encrypted objects only", reads.Load(), encrypted)
	}
}

// The fallback on its own, against the real server: the GET of an SSE-C
// object without its key is a refusal the lookup confirms, for the exact
// key only; the lookup says no for other objects, and for a key that is
// only a prefix of SSE-C objects.
func TestSSECRefusalConfirmed(t *testing.T) {
	s, _ := mixedBucket(t)
	r, err := s.step(all, 1, "mixed").newRun(context.Background(), steptest.NewRuntime("validate_objects.test"))
	must(t, "run", err)
	ctx := context.Background()
	_, _, _, err = r.core.GetObject(ctx, "mixed", "c-1", miniogo.GetObjectOptions{})
	if resp := miniogo.ToErrorResponse(err); !sseCRefusal(err) || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET of an SSE-C object without its key = %v (status %d, code %q), want an SSE-C refusal", err, resp.StatusCode, resp.Code)
	}
	for key, want := range map[string]bool{"c-1": true, "c-11": true, "c-": false, "s3-001": false, "kms-01": false, "plain-01": false, "nope": false} {
		if got := r.isSSEC(ctx, object{Bucket: "mixed", Key: key}); got != want {
			t.Errorf("isSSEC(%s) = %v, want %v", key, got, want)
		}
	}
	for _, err := range []error{
		miniogo.ErrorResponse{StatusCode: http.StatusNotFound, Code: errCodeNoSuchKey},
		miniogo.ErrorResponse{StatusCode: http.StatusBadRequest, Code: "InvalidArgument"},
		miniogo.ErrorResponse{StatusCode: http.StatusForbidden, Code: errCodeInvalidRequest},
		io.ErrUnexpectedEOF,
	} {
		if sseCRefusal(err) {
			t.Errorf("sseCRefusal(%v) = true", err)
		}
	}
	buf := make([]byte, DefaultBytes)
	for key, want := range map[string]class{"c-5": classSSEC, "s3-002": classSSES3, "kms-02": classSSEKMS, "plain-02": classUnencrypted} {
		if c, err := r.read(ctx, object{Bucket: "mixed", Key: key, Size: 1, class: classUnknown}, buf); err != nil || c != want {
			t.Errorf("read(%s) = %d, %v; want class %d", key, c, err, want)
		}
	}
}
