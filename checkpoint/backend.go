package checkpoint

import (
	"context"
	"errors"
)

// Backend is the object storage a shared checkpoint lives on (see Remote):
// whole objects only, no append, with conditional creation and
// compare-and-swap on the ETag. S3Backend implements it on S3-compatible
// storage. Every method is bounded by ctx; the caller sets a deadline.
type Backend interface {
	// Get returns the object's bytes and ETag; ErrObjectNotFound when absent.
	Get(ctx context.Context, key string) (data []byte, etag string, err error)
	// Put writes data under key if cond holds and returns the new ETag;
	// ErrPrecondition when it does not (the object exists for IfAbsent, or
	// has another ETag for IfMatch).
	Put(ctx context.Context, key string, data []byte, cond Cond) (etag string, err error)
	// Delete removes key; an absent key is no error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Object, error)
	// String names the store for messages ("s3://bucket/prefix at endpoint").
	String() string
}

// Cond is the precondition of a Put: none (the zero value), IfAbsent
// (If-None-Match: *) or IfMatch (If-Match: <etag>).
type Cond struct {
	IfAbsent bool
	IfMatch  string
}

// Object is one listed object.
type Object struct {
	Key  string
	Size int64
	ETag string
}

// ErrObjectNotFound means a Backend has no object under the key.
var ErrObjectNotFound = errors.New("no such object")

// ErrPrecondition means a conditional Put was refused: the object was
// created or changed by someone else.
var ErrPrecondition = errors.New("precondition failed")

// ErrStoreUnavailable means the shared state store could not be reached (or
// answered with an error other than a refused precondition). The local
// copy holds what was written; see Remote.
var ErrStoreUnavailable = errors.New("state store unavailable")

// ErrStaleWriter means a checkpoint write was refused because the shared
// state was changed by another writer since this one read it: nothing was
// overwritten.
var ErrStaleWriter = errors.New("the shared checkpoint was changed by another writer")
