package validateobjects

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/steps"
)

// errNoDeployment is returned when the minio block did not decode.
var errNoDeployment = errors.New("the minio block this step refers to has errors")

// readTimeout bounds one object's read.
const readTimeout = time.Minute

// beforeRead, when set by a test, runs inside each read's concurrency slot.
var beforeRead func()

// run is one execution of the step: its counters and failures.
type run struct {
	s    *Step
	core miniogo.Core
	rt   steps.Runtime
	res  *reservoir // the sample; nil when every object is read
	// tallies counts each bucket's objects; the map is filled before the
	// run and only read after, so workers share it without a lock.
	tallies map[string]*tally
	fails   *ObjectErrors
	log     *failureLog
	// listedAll counts the objects listed so far, for progress (the
	// listing runs on one goroutine).
	listedAll int64
	// total is the number of objects to read once known (sample mode).
	total atomic.Int64
	// attempted counts the objects whose read has ended.
	attempted atomic.Int64
	// inflight and maxInflight count concurrent reads.
	inflight, maxInflight atomic.Int64
}

func (s *Step) newRun(ctx context.Context, rt steps.Runtime) (*run, error) {
	c, err := s.Deployment.S3(ctx)
	if err != nil {
		return nil, err
	}
	tallies := make(map[string]*tally, len(s.Buckets))
	for _, b := range s.Buckets {
		tallies[b] = &tally{}
	}
	return &run{s: s, core: miniogo.Core{Client: c}, rt: rt, tallies: tallies, fails: &ObjectErrors{}, log: newFailureLog(rt.Output())}, nil
}

// tally is the count of one of the step's buckets.
func (r *run) tally(bucket string) *tally { return r.tallies[bucket] }

// totals adds up the buckets' counts.
func (r *run) totals() counts {
	var sum counts
	for _, b := range r.s.Buckets {
		sum = sum.plus(r.tally(b).load())
	}
	return sum
}

// execute lists and reads: streamed when every object is read, after the
// listing when sampling.
func (r *run) execute(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.s.All {
		return r.pool(ctx, func(out chan<- object) error {
			return r.list(ctx, func(o object) error { return send(ctx, out, o) })
		})
	}
	r.res = newReservoir(r.s.SampleSize)
	if err := r.list(ctx, r.res.offer); err != nil {
		return fmt.Errorf("stopped while listing, after %d objects: %w", r.totals().listed, err)
	}
	r.total.Store(int64(len(r.res.items)))
	return r.pool(ctx, func(out chan<- object) error {
		for _, o := range r.res.items {
			if err := send(ctx, out, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// send hands o to the workers unless ctx ends first.
func send(ctx context.Context, out chan<- object, o object) error {
	select {
	case out <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pool runs the step's workers on the objects feed sends, and returns the
// feed's error, the context's, or the failures.
func (r *run) pool(ctx context.Context, feed func(chan<- object) error) error {
	objects := make(chan object, r.s.Concurrency)
	var wg sync.WaitGroup
	for range r.s.Concurrency {
		wg.Go(func() { r.worker(ctx, objects) })
	}
	err := feed(objects)
	close(objects)
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("stopped after reading %d objects: %w", r.totals().checked, context.Cause(ctx))
	case err != nil:
		return err
	case r.fails.failed():
		r.fails.Checked = r.totals().checked
		return r.fails
	}
	return nil
}

// worker reads objects with its own buffer until the channel closes.
func (r *run) worker(ctx context.Context, objects <-chan object) {
	buf := make([]byte, r.s.Bytes)
	for o := range objects {
		if ctx.Err() == nil {
			r.check(ctx, o, buf)
		}
	}
}

// check reads one object and counts the outcome: a read of an encrypted
// object, a failure, or the class the read found (an object the listing
// could not classify, or one deleted since).
func (r *run) check(ctx context.Context, o object, buf []byte) {
	raiseMax(&r.maxInflight, r.inflight.Add(1))
	defer r.inflight.Add(-1)
	if beforeRead != nil {
		beforeRead()
	}
	c, err := r.read(ctx, o, buf)
	t := r.tally(o.Bucket)
	switch {
	case err != nil && ctx.Err() != nil:
		return // interrupted, not the object's fault
	case err != nil:
		t.checked.Add(1)
		t.failed.Add(1)
		if o.class == classUnknown {
			t.failedUnknown.Add(1)
		}
		r.fails.add(o.Bucket, o.Key, err.Error())
		r.log.record(o, err)
	case c.encrypted():
		t.checked.Add(1)
		if o.class == classUnknown {
			t.count(c)
		}
	default:
		t.count(c)
	}
	r.rt.Progress(steps.Progress{Done: r.attempted.Add(1), Total: r.total.Load(), Unit: "objects"})
}

// raiseMax sets m to n if n is larger.
func raiseMax(m *atomic.Int64, n int64) {
	for cur := m.Load(); n > cur && !m.CompareAndSwap(cur, n); cur = m.Load() {
	}
}
