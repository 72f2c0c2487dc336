package validateobjects

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cutover/cutover/steps"
)

// maxNamed is how many failing objects the step's error names.
const maxNamed = 20

// ObjectError is one object that could not be read, and why (the S3 error
// code and message, such as "kms:InvalidCiphertextException: failed to
// decrypt ciphertext" when the KMS holds a different key of that name).
type ObjectError struct {
	Bucket, Key string // the object
	Reason      string // S3 error code and message, or the read's error
}

func (e ObjectError) name() string { return e.Bucket + "/" + e.Key }

// ListingError is a bucket whose listing failed part-way or at once.
// MinIO decrypts the ETags of single-part SSE-S3 objects to list them, so
// on a KMS that lacks their key even the listing fails, and those
// objects cannot be named.
type ListingError struct {
	Bucket, Prefix string // what was listed
	// After is the last key listed before the failure; "" if none was.
	After  string
	Reason string // S3 error code and message
}

func (e ListingError) Error() string {
	where := e.Bucket + "/" + e.Prefix
	at := "at its start"
	if e.After != "" {
		at = fmt.Sprintf("after %q", e.After)
	}
	msg := fmt.Sprintf("listing %s failed %s: %s", where, at, e.Reason)
	if strings.HasPrefix(e.Reason, "kms:") {
		msg += " (MinIO decrypts the ETags of single-part SSE-S3 objects to list them: its KMS lacks the key they were written with)"
	}
	return msg
}

// ObjectErrors is the error of a run in which objects were unreadable or
// buckets could not be listed: how many objects of how many read, the
// first maxNamed objects in name order (bucket, then key) whatever order
// the concurrent reads finished in, and every failed listing.
type ObjectErrors struct {
	// Checked is the number of encrypted objects read, failures included.
	Checked int64
	mu      sync.Mutex
	count   int
	named   []ObjectError // sorted, at most maxNamed
	lists   []ListingError
}

// add records a failure, keeping the maxNamed smallest names.
func (e *ObjectErrors) add(bucket, key, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	oe := ObjectError{Bucket: bucket, Key: key, Reason: reason}
	i := sort.Search(len(e.named), func(i int) bool { return oe.name() < e.named[i].name() })
	if i >= maxNamed {
		return
	}
	e.named = append(e.named, ObjectError{})
	copy(e.named[i+1:], e.named[i:])
	e.named[i] = oe
	if len(e.named) > maxNamed {
		e.named = e.named[:maxNamed]
	}
}

// addListing records a failed listing.
func (e *ObjectErrors) addListing(le ListingError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lists = append(e.lists, le)
}

// Count is the number of objects that failed.
func (e *ObjectErrors) Count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// failed reports whether anything failed.
func (e *ObjectErrors) failed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count > 0 || len(e.lists) > 0
}

// Named returns the failures the error names.
func (e *ObjectErrors) Named() []ObjectError {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ObjectError(nil), e.named...)
}

// Listings returns the failed listings.
func (e *ObjectErrors) Listings() []ListingError {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ListingError(nil), e.lists...)
}

func (e *ObjectErrors) Error() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var parts []string
	for _, l := range e.lists {
		parts = append(parts, l.Error())
	}
	if e.count > 0 || len(e.lists) == 0 {
		parts = append(parts, e.objectsMessage())
	}
	return strings.Join(parts, "; ")
}

// objectsMessage is the part of Error about objects.
func (e *ObjectErrors) objectsMessage() string {
	names := make([]string, len(e.named))
	for i, f := range e.named {
		names[i] = f.name() + ": " + f.Reason
	}
	msg := fmt.Sprintf("%d of %d encrypted objects unreadable", e.count, e.Checked)
	if len(names) > 0 {
		msg += ": " + strings.Join(names, "; ")
	}
	if e.count > len(e.named) {
		msg += fmt.Sprintf("; and %d more (every one is in the step's log)", e.count-len(e.named))
	}
	return msg
}

// tally counts one bucket's objects while the run goes on.
type tally struct {
	listed, checked, failed                           atomic.Int64
	failedUnknown                                     atomic.Int64 // failed reads of objects the listing did not classify
	sseS3, sseKMS, ssec, unencrypted, empty, vanished atomic.Int64
	listingFailed                                     atomic.Bool
}

// count counts an object of class c (classUnknown is not counted: the
// read classifies it).
func (t *tally) count(c class) {
	switch c {
	case classSSES3:
		t.sseS3.Add(1)
	case classSSEKMS:
		t.sseKMS.Add(1)
	case classUnencrypted:
		t.unencrypted.Add(1)
	case classSSEC:
		t.ssec.Add(1)
	case classEmpty:
		t.empty.Add(1)
	case classGone:
		t.vanished.Add(1)
	}
}

// load takes a snapshot of the counts.
func (t *tally) load() counts {
	return counts{listed: t.listed.Load(), checked: t.checked.Load(), failed: t.failed.Load(), failedUnknown: t.failedUnknown.Load(),
		sseS3: t.sseS3.Load(), sseKMS: t.sseKMS.Load(), ssec: t.ssec.Load(), unencrypted: t.unencrypted.Load(),
		empty: t.empty.Load(), vanished: t.vanished.Load(), listingFailed: t.listingFailed.Load()}
}

// counts is a snapshot of a tally, or the sum of several.
type counts struct {
	listed, checked, failed, failedUnknown            int64
	sseS3, sseKMS, ssec, unencrypted, empty, vanished int64
	listingFailed                                     bool
}

// plus adds two snapshots.
func (c counts) plus(o counts) counts {
	return counts{listed: c.listed + o.listed, checked: c.checked + o.checked, failed: c.failed + o.failed, failedUnknown: c.failedUnknown + o.failedUnknown,
		sseS3: c.sseS3 + o.sseS3, sseKMS: c.sseKMS + o.sseKMS, ssec: c.ssec + o.ssec,
		unencrypted: c.unencrypted + o.unencrypted, empty: c.empty + o.empty, vanished: c.vanished + o.vanished,
		listingFailed: c.listingFailed || o.listingFailed}
}

// skipped is the number of objects not read as proof, for every reason.
func (c counts) skipped() int64 {
	return c.unencrypted + c.ssec + c.empty + c.vanished
}

// skipDetail is "(3 unencrypted, 1 empty)".
func (c counts) skipDetail() string {
	var parts []string
	for _, p := range []struct {
		n    int64
		what string
	}{{c.unencrypted, "unencrypted"}, {c.ssec, "SSE-C"}, {c.empty, "empty"}, {c.vanished, "deleted meanwhile"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// bucketLine is the account of one bucket: "bucket crypt: read 50,
// encrypted 62 (SSE-S3 40, SSE-KMS 10, SSE-C 12 skipped), unencrypted 15,
// empty 5, failed 0; listed 82".
func (c counts) bucketLine(bucket string, sample bool) string {
	read := fmt.Sprint(c.checked)
	if sample {
		read += " (sample)"
	}
	line := fmt.Sprintf("bucket %s: read %s, encrypted %d (SSE-S3 %d, SSE-KMS %d, SSE-C %d skipped), unencrypted %d, empty %d, failed %d",
		bucket, read, c.sseS3+c.sseKMS+c.ssec, c.sseS3, c.sseKMS, c.ssec, c.unencrypted, c.empty, c.failed)
	if c.failedUnknown > 0 {
		line += fmt.Sprintf(" (%d of unknown encryption: the read failed before MinIO said)", c.failedUnknown)
	}
	if c.vanished > 0 {
		line += fmt.Sprintf(", deleted meanwhile %d", c.vanished)
	}
	line += fmt.Sprintf("; listed %d", c.listed)
	if c.listingFailed {
		line += "; listing FAILED"
	}
	return line
}

// failureLog writes every failing object to the step's log, buffered.
type failureLog struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newFailureLog(w io.Writer) *failureLog { return &failureLog{w: bufio.NewWriterSize(w, 64<<10)} }

// record logs one failing object.
func (l *failureLog) record(o object, err error) {
	l.write(fmt.Sprintf("unreadable %s/%s: %v", o.Bucket, o.Key, err))
}

// write logs one line.
func (l *failureLog) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, line)
}

// flush writes out what is buffered.
func (l *failureLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
}

// listed counts a listed object of t and reports the listing's progress
// while a sample is being drawn (the reads start after it).
func (r *run) listed(t *tally) {
	t.listed.Add(1)
	if r.res != nil {
		r.listedAll++
		r.rt.Progress(steps.Progress{Done: r.listedAll, Unit: "objects listed"})
	}
}

// report records the outputs and the summary of a run, finished or not,
// and logs one line per bucket.
func (r *run) report(rt steps.Runtime) {
	for _, b := range r.s.Buckets {
		line := r.tally(b).load().bucketLine(b, r.res != nil)
		r.log.write(line)
		rt.Logf("%s", line)
	}
	r.log.flush()
	t := r.totals()
	for k, v := range map[string]int64{"checked": t.checked, "failed": t.failed, "skipped": t.skipped(),
		"unencrypted": t.unencrypted, "ssec": t.ssec, "empty": t.empty} {
		rt.SetOutput(k, fmt.Sprint(v))
	}
	rt.SetSummary(r.summary(t))
	if t.checked == 0 {
		rt.Logf("no encrypted object found in %s: nothing was proven readable", strings.Join(r.s.Buckets, ", "))
	}
}

// summary is one line: what was read, what failed, what was skipped.
func (r *run) summary(t counts) string {
	read := fmt.Sprintf("read %d bytes of %d encrypted object(s) of %d listed", r.s.Bytes, t.checked, t.listed)
	if r.res != nil {
		read += fmt.Sprintf(" (sample of %d)", r.s.SampleSize)
	}
	result := "all readable"
	if t.failed > 0 {
		result = fmt.Sprintf("%d UNREADABLE", t.failed)
	}
	if n := len(r.fails.Listings()); n > 0 {
		result += fmt.Sprintf(", %d bucket listing(s) FAILED", n)
	}
	return fmt.Sprintf("%s: %s; skipped %d%s", read, result, t.skipped(), t.skipDetail())
}
