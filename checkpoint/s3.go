package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cutover/cutover/internal/httpx"
)

// DefaultCallTimeout bounds each call to the state store when the plan sets
// no timeout.
const DefaultCallTimeout = 10 * time.Second

// S3Config locates a shared checkpoint on S3-compatible storage: the plan's
// `state "s3"` block or --state-url s3://BUCKET/PREFIX?endpoint=...
type S3Config struct {
	Bucket string
	Prefix string // objects go under PREFIX/<plan name>/
	// Endpoint is "https://host:port" or "http://host:port"; a bare
	// host:port is https; empty is AWS S3.
	Endpoint string
	Region   string
	CAFile   string // PEM roots to trust instead of the system's
}

// ParseStateURL reads s3://BUCKET[/PREFIX][?endpoint=URL&region=R&ca_file=PATH].
func ParseStateURL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3Config{}, fmt.Errorf("state URL %q: %w", raw, err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return S3Config{}, fmt.Errorf("state URL %q: want s3://BUCKET/PREFIX?endpoint=URL", raw)
	}
	cfg := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	for k, v := range u.Query() {
		switch k {
		case "endpoint":
			cfg.Endpoint = v[0]
		case "region":
			cfg.Region = v[0]
		case "ca_file":
			cfg.CAFile = v[0]
		default:
			return S3Config{}, fmt.Errorf("state URL %q: unknown parameter %q (known: endpoint, region, ca_file)", raw, k)
		}
	}
	return cfg, nil
}

// String is the store as an s3:// URL.
func (c S3Config) String() string {
	s := "s3://" + c.Bucket
	if c.Prefix != "" {
		s += "/" + c.Prefix
	}
	if c.Endpoint != "" {
		s += " at " + c.Endpoint
	}
	return s
}

// S3Backend is a Backend on an S3 bucket (AWS S3, MinIO): conditional
// writes use If-None-Match: * and If-Match: <etag>. Credentials come from
// the usual chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// (AWS_SESSION_TOKEN), MINIO_ROOT_USER/MINIO_ROOT_PASSWORD, then
// ~/.aws/credentials (AWS_PROFILE).
type S3Backend struct {
	cfg    S3Config
	prefix string // "<prefix>/<plan>/"
	client *minio.Client
}

// NewS3 returns the backend for cfg holding plan's objects; nothing is
// contacted.
func NewS3(cfg S3Config, plan string) (*S3Backend, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("state store: bucket is empty")
	}
	host, secure := cfg.Endpoint, true
	switch {
	case host == "":
		host = "s3.amazonaws.com"
	case strings.HasPrefix(host, "http://"):
		host, secure = strings.TrimPrefix(host, "http://"), false
	case strings.HasPrefix(host, "https://"):
		host = strings.TrimPrefix(host, "https://")
	}
	hc, err := httpx.Client(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.FileAWSCredentials{},
	})
	c, err := minio.New(strings.TrimSuffix(host, "/"), &minio.Options{Creds: creds, Secure: secure,
		Transport: hc.Transport.(*http.Transport), Region: cfg.Region, MaxRetries: 1})
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", cfg, err)
	}
	c.SetAppInfo("cutover", "1")
	p := strings.Trim(cfg.Prefix, "/")
	if p != "" {
		p += "/"
	}
	return &S3Backend{cfg: cfg, prefix: p + plan + "/", client: c}, nil
}

// String implements Backend.
func (b *S3Backend) String() string {
	c := b.cfg
	c.Prefix = strings.TrimSuffix(b.prefix, "/")
	return c.String()
}

// Get implements Backend.
func (b *S3Backend) Get(ctx context.Context, key string) ([]byte, string, error) {
	obj, err := b.client.GetObject(ctx, b.cfg.Bucket, b.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", b.err("get", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, "", b.err("get", key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		return nil, "", b.err("get", key, err)
	}
	return data, info.ETag, nil
}

// Put implements Backend.
func (b *S3Backend) Put(ctx context.Context, key string, data []byte, cond Cond) (string, error) {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	switch {
	case cond.IfAbsent:
		opts.SetMatchETagExcept("*")
	case cond.IfMatch != "":
		opts.SetMatchETag(cond.IfMatch)
	}
	info, err := b.client.PutObject(ctx, b.cfg.Bucket, b.prefix+key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return "", b.err("put", key, err)
	}
	return info.ETag, nil
}

// Delete implements Backend.
func (b *S3Backend) Delete(ctx context.Context, key string) error {
	err := b.client.RemoveObject(ctx, b.cfg.Bucket, b.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(b.err("delete", key, err), ErrObjectNotFound) {
		return b.err("delete", key, err)
	}
	return nil
}

// List implements Backend.
func (b *S3Backend) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	for o := range b.client.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, b.err("list", prefix, o.Err)
		}
		out = append(out, Object{Key: strings.TrimPrefix(o.Key, b.prefix), Size: o.Size, ETag: o.ETag})
	}
	return out, nil
}

// err classifies a client error: a missing object, a refused
// precondition, or the store being unavailable.
func (b *S3Backend) err(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket":
		return fmt.Errorf("%s %s: %w", op, key, ErrObjectNotFound)
	case resp.StatusCode == http.StatusPreconditionFailed || resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%s %s: %w", op, key, ErrPrecondition)
	}
	return fmt.Errorf("%s %s in %s: %w: %w", op, key, b.String(), ErrStoreUnavailable, err)
}
