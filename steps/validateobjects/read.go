package validateobjects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/providers/minio"
)

// class is what the listing (or a read) says about an object's encryption.
type class int

const (
	classSSES3       class = iota // SSE-S3, non-empty: read it
	classSSEKMS                   // SSE-KMS, non-empty: read it
	classUnknown                  // no metadata in the listing: read it, decide from the answer
	classUnencrypted              // no server-side encryption: proves nothing
	classSSEC                     // SSE-C: the client's key, not the KMS's: not read
	classEmpty                    // zero bytes, any encryption: MinIO decrypts nothing to serve it: not read
	classGone                     // deleted between the listing and the read
)

// encrypted reports whether c is sealed under a KMS key (SSE-S3 or
// SSE-KMS): the objects whose read proves the KMS.
func (c class) encrypted() bool { return c == classSSES3 || c == classSSEKMS }

// S3 headers and metadata keys that say how an object is encrypted.
const (
	headerSSE           = "X-Amz-Server-Side-Encryption"
	sseKMSValue         = "aws:kms" // headerSSE's value for SSE-KMS (SSE-S3's is AES256)
	headerSSECustomer   = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
	headerSSEKMSKeyID   = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	errCodeNoSuchKey    = "NoSuchKey"
	errCodeNoSuchBucket = "NoSuchBucket"
	// errCodeInvalidRequest is the code of MinIO's ErrSSEEncryptedObject
	// (status 400), its answer to a GET of an SSE-C object without the
	// customer key; other bad requests share it.
	errCodeInvalidRequest = "InvalidRequest"
)

// object is a listed object to read.
type object struct {
	Bucket, Key string
	Size        int64
	class       class
}

// classify reads an object's class from its listing entry. Empty comes
// first, whatever the encryption, so that both listings count an object
// the same way.
func classify(info miniogo.ObjectInfo) class {
	switch {
	case info.Size == 0:
		return classEmpty
	case info.UserMetadata == nil:
		return classUnknown
	case lookup(info.UserMetadata, headerSSECustomer) != "":
		return classSSEC
	}
	return sseClass(lookup(info.UserMetadata, headerSSE), lookup(info.UserMetadata, headerSSEKMSKeyID))
}

// sseClass is the class of a non-empty object that is not SSE-C, from its
// server-side-encryption header and KMS key ID.
func sseClass(sse, kmsKeyID string) class {
	switch {
	case strings.EqualFold(sse, sseKMSValue) || kmsKeyID != "":
		return classSSEKMS
	case sse != "":
		return classSSES3
	}
	return classUnencrypted
}

// lookup finds a metadata value whatever the case of its key.
func lookup(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// list walks every bucket's listing under the prefix, counts the objects
// whose class it knows, and calls fn with those to read. A bucket whose listing fails is
// recorded as a failure and the next bucket is listed; only the end of
// ctx stops the walk.
func (r *run) list(ctx context.Context, fn func(object) error) error {
	for _, b := range r.s.Buckets {
		after, err := r.listBucket(ctx, b, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			le := ListingError{Bucket: b, Prefix: r.s.Prefix, After: after, Reason: reason(err)}
			r.tally(b).listingFailed.Store(true)
			r.fails.addListing(le)
			r.log.write(le.Error())
		}
	}
	return nil
}

// listBucket lists one bucket and returns the last key it listed, with the
// listing's error. Only a sample needs the metadata listing (see the
// package doc); reading every object, the plain listing is cheaper.
func (r *run) listBucket(ctx context.Context, bucket string, fn func(object) error) (string, error) {
	opts := miniogo.ListObjectsOptions{Prefix: r.s.Prefix, Recursive: true, WithMetadata: !r.s.All}
	minio.PassFreeze(&opts)
	t := r.tally(bucket)
	last := ""
	for info := range r.core.Client.ListObjects(ctx, bucket, opts) {
		if info.Err != nil {
			return last, info.Err
		}
		last = info.Key
		r.listed(t)
		o := object{Bucket: bucket, Key: info.Key, Size: info.Size, class: classify(info)}
		if o.class != classUnknown {
			t.count(o.class)
			if !o.class.encrypted() {
				continue
			}
		}
		if err := fn(o); err != nil {
			return last, err
		}
	}
	return last, nil
}

// read GETs the first bytes of o (a ranged GET: MinIO must unseal the
// object key through the KMS and decrypt the first package) and returns
// the object's class, from its response headers when the listing did not
// say. A classUnknown object MinIO refuses to serve because it is SSE-C
// (confirmed by isSSEC) is classSSEC, not a failure.
func (r *run) read(ctx context.Context, o object, buf []byte) (class, error) {
	n := min(int64(len(buf)), o.Size)
	opts := miniogo.GetObjectOptions{}
	minio.PassFreeze(&opts)
	if n > 0 {
		if err := opts.SetRange(0, n-1); err != nil {
			return o.class, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	body, _, hdr, err := r.core.GetObject(rctx, o.Bucket, o.Key, opts)
	if miniogo.ToErrorResponse(err).Code == errCodeNoSuchKey {
		return classGone, nil
	}
	if err != nil {
		if o.class == classUnknown && sseCRefusal(err) && r.isSSEC(rctx, o) {
			return classSSEC, nil
		}
		return o.class, errors.New(reason(err))
	}
	defer body.Close()
	if _, err := io.ReadFull(body, buf[:n]); err != nil {
		return o.class, fmt.Errorf("reading the first %d bytes: %s", n, reason(err))
	}
	if o.class == classUnknown {
		return classOfResponse(hdr), nil
	}
	return o.class, nil
}

// sseCRefusal reports whether err may be MinIO's refusal to serve an
// SSE-C object without its customer key (ErrSSEEncryptedObject: status
// 400, code InvalidRequest). Other bad requests share that status and
// code, so only isSSEC can confirm it.
func sseCRefusal(err error) bool {
	resp := miniogo.ToErrorResponse(err)
	return resp.StatusCode == http.StatusBadRequest && resp.Code == errCodeInvalidRequest
}

// isSSEC looks o up in a metadata listing (with the freeze bypass) and
// reports whether the listing classifies it as SSE-C. Its key sorts
// first among the keys it prefixes, so the first entry is the object if
// it still exists. A failed lookup, or another first entry, says no.
func (r *run) isSSEC(ctx context.Context, o object) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := miniogo.ListObjectsOptions{Prefix: o.Key, Recursive: true, WithMetadata: true, MaxKeys: 1}
	minio.PassFreeze(&opts)
	info, ok := <-r.core.Client.ListObjects(ctx, o.Bucket, opts)
	return ok && info.Err == nil && info.Key == o.Key && classify(info) == classSSEC
}

// classOfResponse classifies a non-empty object by the headers of a GET.
func classOfResponse(h http.Header) class {
	if h.Get(headerSSECustomer) != "" {
		return classSSEC
	}
	return sseClass(h.Get(headerSSE), h.Get(headerSSEKMSKeyID))
}

// reason is an error as an S3 code and message when the server sent one.
func reason(err error) string {
	if resp := miniogo.ToErrorResponse(err); resp.Code != "" {
		msg := resp.Message
		if msg == "" {
			msg = err.Error()
		}
		return resp.Code + ": " + msg
	}
	return err.Error()
}

// checkBucketsExist lists one entry of each bucket (with the freeze
// bypass, read-only) and fails on the first that does not exist.
func (s *Step) checkBucketsExist(ctx context.Context) error {
	c, err := s.Deployment.S3(ctx)
	if err != nil {
		return err
	}
	for _, b := range s.Buckets {
		lctx, cancel := context.WithCancel(ctx)
		opts := miniogo.ListObjectsOptions{Prefix: s.Prefix, MaxKeys: 1}
		minio.PassFreeze(&opts)
		info, ok := <-c.ListObjects(lctx, b, opts)
		cancel()
		if ok && info.Err != nil {
			if miniogo.ToErrorResponse(info.Err).Code == errCodeNoSuchBucket {
				return fmt.Errorf("bucket %s does not exist on %s", b, s.Deployment.Describe())
			}
			return fmt.Errorf("list %s on %s: %s", b, s.Deployment.Describe(), reason(info.Err))
		}
	}
	return nil
}
