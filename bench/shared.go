package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/testing/testenv"
)

// benchSharedSave times the same Save and SaveStep as benchSave on a
// checkpoint shared on MinIO over loopback (state "s3"): the local
// write-ahead copy plus the compare-and-swap PUT of state.json, or the
// state.log segment and the audit segment of a step's mark.
func (b *bench) benchSharedSave(ctx context.Context, dir string) error {
	m, err := testenv.StartMinIO(mkdir(dir, "minio-state"), testenv.MinIOOptions{})
	if err != nil {
		return err
	}
	defer m.Stop()
	c, err := newS3(m, 4)
	if err != nil {
		return err
	}
	if err := c.MakeBucket(ctx, "state", miniogo.MakeBucketOptions{}); err != nil {
		return err
	}
	os.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	backend, err := checkpoint.NewS3(checkpoint.S3Config{Bucket: "state", Endpoint: m.Endpoint}, "bench")
	if err != nil {
		return err
	}
	store, err := checkpoint.Open(filepath.Join(dir, "shared-state"))
	if err != nil {
		return err
	}
	store.Use(checkpoint.Options{Remote: &checkpoint.Remote{Backend: backend}})
	lock := checkpoint.NewLockInfo("bench", "bench")
	if err := store.Lock(lock); err != nil {
		return err
	}
	defer store.Unlock(lock.ID)
	st := realisticState()
	for range 5 {
		if err := store.Save(st); err != nil {
			return err
		}
	}
	n := b.sizes.Saves
	saves, err := timeMarks(st, n, func(*checkpoint.StepState) error { return store.Save(st) })
	if err != nil {
		return err
	}
	marks, err := timeMarks(st, n, func(rec *checkpoint.StepState) error { return store.SaveStep(st, rec.ID) })
	if err != nil {
		return err
	}
	for _, r := range []struct {
		name, what string
		d          []time.Duration
	}{
		{"checkpoint Save on MinIO (state \"s3\")", "local state.json as above, then a PUT of it with If-Match on the last ETag", saves},
		{"checkpoint SaveStep on MinIO (state \"s3\")", "local state.log line as above, then a PUT of the line as an immutable segment (If-None-Match: *)", marks},
	} {
		med := Median(r.d)
		b.report.Add(Metric{Section: "engine", Name: r.name, Value: Float(ms(med)), Unit: "ms",
			Detail: fmt.Sprintf("median of %d; p90 %.2f ms; %s; MinIO over loopback, same machine", n, ms(Percentile(r.d, 90)), r.what),
			Extra:  map[string]Float{"median_ms": Float(ms(med)), "p90_ms": Float(ms(Percentile(r.d, 90)))}})
	}
	return nil
}
