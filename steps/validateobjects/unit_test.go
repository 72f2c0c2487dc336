package validateobjects

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	miniogo "github.com/minio/minio-go/v7"
)

// ObjectErrors names the 20 smallest names, whatever the order failures
// arrive in, and counts them all.
func TestObjectErrorsNamesFirstInNameOrder(t *testing.T) {
	e := &ObjectErrors{Checked: 100}
	for _, i := range rand.Perm(50) {
		e.add("b", fmt.Sprintf("o-%02d", i), "why")
	}
	named := e.Named()
	if e.Count() != 50 || len(named) != maxNamed || named[0].Key != "o-00" || named[19].Key != "o-19" {
		t.Fatalf("count %d, named %v", e.Count(), named)
	}
	msg := e.Error()
	if !strings.HasPrefix(msg, "50 of 100 encrypted objects unreadable: b/o-00: why; b/o-01: why") || !strings.HasSuffix(msg, "and 30 more (every one is in the step's log)") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestListingErrorMessage(t *testing.T) {
	le := ListingError{Bucket: "crypt", Prefix: "2024/", After: "2024/a", Reason: "kms:InvalidCiphertextException: failed to decrypt ciphertext"}
	if got := le.Error(); !strings.HasPrefix(got, `listing crypt/2024/ failed after "2024/a": kms:InvalidCiphertextException`) ||
		!strings.Contains(got, "lacks the key") {
		t.Errorf("Error() = %q", got)
	}
	other := ListingError{Bucket: "x", Reason: "NoSuchBucket: The specified bucket does not exist"}
	if got := other.Error(); got != "listing x/ failed at its start: NoSuchBucket: The specified bucket does not exist" {
		t.Errorf("Error() = %q", got)
	}
}

// The reservoir holds at most k, draws every position with the same odds,
// and draws the same sample from the same listing.
func TestReservoir(t *testing.T) {
	draw := func() *reservoir {
		r := newReservoir(10)
		for i := range 1000 {
			_ = r.offer(object{Key: fmt.Sprint(i)})
		}
		return r
	}
	a, b := draw(), draw()
	if a.peak != 10 || len(a.items) != 10 || fmt.Sprint(a.items) != fmt.Sprint(b.items) {
		t.Fatalf("peak %d, items %v / %v", a.peak, a.items, b.items)
	}
	// Uniformity: over many draws of 10 of 100 with different seeds, each
	// tenth of the listing gets about a tenth of the picks.
	counts := make([]int, 10)
	for s := range uint64(2000) {
		r := newReservoir(10)
		r.rng = rand.New(rand.NewPCG(s, s))
		for i := range 100 {
			_ = r.offer(object{Size: int64(i)})
		}
		for _, o := range r.items {
			counts[o.Size/10]++
		}
	}
	for i, c := range counts {
		if c < 1700 || c > 2300 { // expected 2000
			t.Errorf("tenth %d of the listing drawn %d times, want about 2000: %v", i, c, counts)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]string
		size int64
		want class
	}{
		{map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, 5, classSSES3},
		{map[string]string{"x-amz-server-side-encryption": "aws:kms"}, 5, classSSEKMS},
		{map[string]string{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "k"}, 5, classSSEKMS},
		{map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, 0, classEmpty},
		{map[string]string{"content-type": "text/plain"}, 5, classUnencrypted},
		{map[string]string{"content-type": "text/plain"}, 0, classEmpty},
		{map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256"}, 5, classSSEC},
		{map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256"}, 0, classEmpty},
		{nil, 5, classUnknown},
		{nil, 0, classEmpty},
	} {
		if got := classify(miniogo.ObjectInfo{UserMetadata: tc.meta, Size: tc.size}); got != tc.want {
			t.Errorf("classify(%v, size %d) = %d, want %d", tc.meta, tc.size, got, tc.want)
		}
	}
	h := http.Header{}
	if classOfResponse(h) != classUnencrypted {
		t.Error("a GET without SSE headers is not unencrypted")
	}
	h.Set("X-Amz-Server-Side-Encryption", "AES256")
	if classOfResponse(h) != classSSES3 {
		t.Error("a GET with SSE-S3 is not SSE-S3")
	}
	h.Set("X-Amz-Server-Side-Encryption", "aws:kms")
	if classOfResponse(h) != classSSEKMS {
		t.Error("a GET with SSE-KMS is not SSE-KMS")
	}
}

// The line of a bucket says what was read and counts every kind.
func TestBucketLine(t *testing.T) {
	c := counts{listed: 90, checked: 52, failed: 2, sseS3: 40, sseKMS: 10, ssec: 12, unencrypted: 15, empty: 5, vanished: 1, listingFailed: true}
	want := "bucket crypt: read 52 (sample), encrypted 62 (SSE-S3 40, SSE-KMS 10, SSE-C 12 skipped), unencrypted 15, empty 5, failed 2, deleted meanwhile 1; listed 90; listing FAILED"
	if got := c.bucketLine("crypt", true); got != want {
		t.Errorf("bucketLine =\n%s\nwant\n%s", got, want)
	}
}
