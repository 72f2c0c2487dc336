package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// Section 2: object validation on one MinIO with a static KMS key, N small
// SSE-S3 objects in one bucket. Every contender proves each object
// decrypts by reading its first bytes.

const (
	validateBucket = "crypt"
	validateKey    = "bench-key"
	readBytes      = 64 // validate_objects' default
)

func objectName(i int) string { return fmt.Sprintf("obj-%06d", i) }

// objectBody is the content of object i: its name on 1 to 5 lines.
func objectBody(i int) string { return strings.Repeat(objectName(i)+"\n", 1+i%5) }

// newS3 is a minio-go client for m with enough idle connections for conc.
func newS3(m *testenv.MinIOServer, conc int) (*miniogo.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * conc
	tr.DisableCompression = true
	return miniogo.New(m.Addr, &miniogo.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Transport: tr, Region: "us-east-1"})
}

// startStaticMinIO starts MinIO with a random static key named validateKey.
func startStaticMinIO(dir string) (*testenv.MinIOServer, []byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	m, err := testenv.StartMinIO(dir, testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv(validateKey, key)})
	return m, key, err
}

// fillBucket creates bucket and PUTs objects 0..n-1 with SSE-S3, 64 at once.
func fillBucket(ctx context.Context, c *miniogo.Client, bucket string, n int) error {
	if err := c.MakeBucket(ctx, bucket, miniogo.MakeBucketOptions{}); err != nil {
		return err
	}
	return parallel(ctx, n, 64, func(ctx context.Context, i int) error {
		body := objectBody(i)
		_, err := c.PutObject(ctx, bucket, objectName(i), strings.NewReader(body), int64(len(body)),
			miniogo.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()})
		return err
	})
}

type validateResult struct {
	wall    time.Duration
	checked int // objects proven readable
	detail  string
	extra   map[string]Float
}

func (b *bench) runValidate(ctx context.Context) error {
	n, conc := b.sizes.Objects, b.sizes.Concurrency
	dir, err := b.dir("validate")
	if err != nil {
		return err
	}
	var srv servers
	defer srv.stopAll()
	b.logf("validate: starting minio (static key)")
	m, _, err := startStaticMinIO(mkdir(dir, "minio"))
	if err != nil {
		return err
	}
	srv.add(m)
	minioPID, err := findPID(m.DataDir)
	if err != nil {
		return err
	}
	c, err := newS3(m, conc)
	if err != nil {
		return err
	}
	b.logf("validate: PUT %d SSE-S3 objects, 64 at once", n)
	t0 := time.Now()
	if err := fillBucket(ctx, c, validateBucket, n); err != nil {
		return err
	}
	b.logf("validate: filled in %s", time.Since(t0).Round(time.Millisecond))

	pids := map[string]int{"minio": minioPID}
	results := map[string][]*validateResult{}
	run := func(name string, fn func() (*validateResult, error)) error {
		b.logf("validate: %s", name)
		meter := newCPUMeter(pids)
		r, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for k, v := range meter.stop() {
			r.extra[k] = v
		}
		results[name] = append(results[name], r)
		b.logf("validate: %s: %d read in %s", name, r.checked, r.wall.Round(time.Millisecond))
		return nil
	}
	// with -cpuprofile: MinIO's CPU profile over most of a contender's
	// first round
	profiled := func(name string, secs float64, round int, fn func() error) error {
		wait := func() {}
		if round == 1 {
			d := time.Duration(max(1, secs*float64(n)/10_000)) * time.Second
			wait = b.profileServer("minio-"+name+".zip", d, minioProfiler(m))
		}
		err := fn()
		wait()
		return err
	}
	for round := 1; round <= b.sizes.Rounds; round++ {
		if err := profiled("raw", 1, round, func() error {
			return run("raw", func() (*validateResult, error) { return rawGets(ctx, c, n, conc) })
		}); err != nil {
			return err
		}
		if err := profiled("cutover", 2, round, func() error {
			return run("cutover", func() (*validateResult, error) { return b.cutoverValidate(ctx, dir, m, n, conc, round) })
		}); err != nil {
			return err
		}
		if err := run("list-get", func() (*validateResult, error) { return rawListAndGet(ctx, c, n, conc, false) }); err != nil {
			return err
		}
		if err := run("list-meta-get", func() (*validateResult, error) { return rawListAndGet(ctx, c, n, conc, true) }); err != nil {
			return err
		}
	}
	// Diagnostics: the listing validate_objects needs to find the objects
	// (the raw ceiling is given the names), alone, with MinIO's metadata
	// extension as the step lists and without.
	for _, meta := range []bool{true, false} {
		name := "list-plain"
		if meta {
			name = "list-metadata"
		}
		if err := run(name, func() (*validateResult, error) { return listOnly(ctx, c, n, meta) }); err != nil {
			return err
		}
	}
	if err := run("mc", func() (*validateResult, error) { return b.mcHeadLoop(ctx, m, n) }); err != nil {
		return err
	}
	b.reportValidate(n, conc, results)
	return b.validateEqualWork(ctx, dir, m, c, conc, pids)
}

func (b *bench) reportValidate(n, conc int, all map[string][]*validateResult) {
	rate := func(r *validateResult) float64 {
		if r.checked < int(r.extra["objects"]) {
			return 0 // objects it could not prove readable: no throughput
		}
		return Rate(int64(r.extra["objects"]), r.wall)
	}
	best := func(rs []*validateResult) *validateResult {
		bst := rs[0]
		for i, r := range rs {
			bst.extra[fmt.Sprintf("rate_round_%d", i+1)] = Float(rate(r))
		}
		for _, r := range rs {
			if rate(r) > rate(bst) {
				for k, v := range bst.extra {
					if strings.HasPrefix(k, "rate_round_") {
						r.extra[k] = v
					}
				}
				bst = r
			}
		}
		return bst
	}
	cut, raw, mc := best(all["cutover"]), best(all["raw"]), best(all["mc"])
	add := func(name string, r *validateResult) {
		extra := map[string]Float{"wall_s": Float(r.wall.Seconds()), "checked": Float(r.checked)}
		for k, x := range r.extra {
			extra[k] = x
		}
		b.report.Add(Metric{Section: "validate", Name: name, Value: Float(rate(r)), Unit: "objects/s", Detail: r.detail, Extra: extra})
	}
	rounds := fmt.Sprintf("best of %d", len(all["cutover"]))
	cut.detail += fmt.Sprintf(" (%s); CPU s: minio %.1f, client %.1f", rounds, float64(cut.extra["cpu_minio_s"]), float64(cut.extra["cpu_bench_s"]))
	raw.detail += fmt.Sprintf(" (%s); CPU s: minio %.1f, client %.1f", rounds, float64(raw.extra["cpu_minio_s"]), float64(raw.extra["cpu_bench_s"]))
	add("cutover validate_objects (all, list+GET)", cut)
	add(fmt.Sprintf("mc head loop (sequential, %d-object sample)", int(mc.extra["objects"])), mc)
	add("raw ranged GETs, minio-go (the ceiling)", raw)
	for _, d := range []struct{ key, name string }{
		{"list-get", "diagnostic: raw plain listing streamed into GETs"},
		{"list-meta-get", "diagnostic: same, listing with metadata"},
		{"list-metadata", "diagnostic: listing alone, with metadata"},
		{"list-plain", "diagnostic: listing alone, plain"},
	} {
		r := best(all[d.key])
		r.detail += fmt.Sprintf("; CPU s: minio %.1f, client %.1f", float64(r.extra["cpu_minio_s"]), float64(r.extra["cpu_bench_s"]))
		add(d.name, r)
	}
	b.report.Add(Metric{Section: "validate", Name: "ratio: validate_objects / sequential mc head loop", Value: Float(Ratio(rate(cut), rate(mc))), Unit: "x",
		Detail: fmt.Sprintf("%s objects/s over all %d / %s objects/s over the loop's %d-object sample (rates, no extrapolation of time); the target is on the equal-work comparison with mc head %d at once",
			FormatValue(rate(cut)), n, FormatValue(rate(mc)), int(mc.extra["objects"]), b.sizes.MCHeadConc)})
	b.report.AddTarget(Target{Section: "validate", Name: "validate_objects vs raw ranged GETs", Value: Float(Ratio(rate(cut), rate(raw))), Op: AtLeast, Limit: 0.8, Unit: "x",
		Detail: fmt.Sprintf("%s / %s objects/s; MinIO CPU per object: cutover %.2f ms, raw %.2f ms", FormatValue(rate(cut)), FormatValue(rate(raw)),
			perKeyMs(cut.extra["cpu_minio_s"], n), perKeyMs(raw.extra["cpu_minio_s"], n))})
}

// rawGets reads the first bytes of every object by name (no listing),
// conc at once, and checks them: the server's ceiling for the reads.
func rawGets(ctx context.Context, c *miniogo.Client, n, conc int) (*validateResult, error) {
	core := miniogo.Core{Client: c}
	start := time.Now()
	err := parallel(ctx, n, conc, func(ctx context.Context, i int) error {
		want := objectBody(i)
		k := min(readBytes, len(want))
		opts := miniogo.GetObjectOptions{}
		if err := opts.SetRange(0, int64(k-1)); err != nil {
			return err
		}
		body, _, _, err := core.GetObject(ctx, validateBucket, objectName(i), opts)
		if err != nil {
			return fmt.Errorf("%s: %w", objectName(i), err)
		}
		defer body.Close()
		got := make([]byte, k)
		if _, err := io.ReadFull(body, got); err != nil {
			return fmt.Errorf("%s: %w", objectName(i), err)
		}
		if string(got) != want[:k] {
			return fmt.Errorf("%s: wrong bytes", objectName(i))
		}
		return nil
	})
	wall := time.Since(start)
	if err != nil {
		return nil, err
	}
	return &validateResult{wall: wall, checked: n, detail: fmt.Sprintf("%d/%d read and compared in %.2fs, names known (no listing), %d at once",
		n, n, wall.Seconds(), conc), extra: map[string]Float{"objects": Float(n)}}, nil
}

// rawListAndGet discovers the objects with a listing (plain, or with
// MinIO's metadata extension as validate_objects lists) streamed into
// conc ranged-GET workers: the ceiling for a tool that is not told the
// names.
func rawListAndGet(ctx context.Context, c *miniogo.Client, n, conc int, withMeta bool) (*validateResult, error) {
	core := miniogo.Core{Client: c}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type obj struct {
		key  string
		size int64
	}
	objs := make(chan obj, conc)
	errs := make(chan error, conc+1)
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			buf := make([]byte, readBytes)
			for o := range objs {
				k := min(int64(readBytes), o.size)
				opts := miniogo.GetObjectOptions{}
				if err := opts.SetRange(0, k-1); err != nil {
					errs <- err
					cancel()
					return
				}
				body, _, _, err := core.GetObject(ctx, validateBucket, o.key, opts)
				if err == nil {
					_, err = io.ReadFull(body, buf[:k])
					body.Close()
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", o.key, err)
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	for info := range c.ListObjects(ctx, validateBucket, miniogo.ListObjectsOptions{Recursive: true, WithMetadata: withMeta}) {
		if info.Err != nil {
			errs <- info.Err
			break
		}
		select {
		case objs <- obj{info.Key, info.Size}:
		case <-ctx.Done():
		}
	}
	close(objs)
	wg.Wait()
	wall := time.Since(start)
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	got := int(done.Load())
	return &validateResult{wall: wall, checked: got, detail: fmt.Sprintf("%d/%d read in %.2fs, %d at once", got, n, wall.Seconds(), conc),
		extra: map[string]Float{"objects": Float(n)}}, nil
}

// listOnly lists the bucket (every page), as validate_objects does when
// withMeta (MinIO's metadata extension), or plainly.
func listOnly(ctx context.Context, c *miniogo.Client, n int, withMeta bool) (*validateResult, error) {
	start := time.Now()
	count := 0
	for info := range c.ListObjects(ctx, validateBucket, miniogo.ListObjectsOptions{Recursive: true, WithMetadata: withMeta}) {
		if info.Err != nil {
			return nil, info.Err
		}
		count++
	}
	wall := time.Since(start)
	how := "plain ListObjectsV2"
	if withMeta {
		how = "ListObjectsV2 with metadata=true, as validate_objects lists"
	}
	return &validateResult{wall: wall, checked: count, detail: fmt.Sprintf("%d/%d names in %.2fs, %s; no reads", count, n, wall.Seconds(), how),
		extra: map[string]Float{"objects": Float(n)}}, nil
}

// cutoverValidate runs a validate_objects plan (sample = "all": every object)
// in-process; the rate is over the step's time from state.json.
func (b *bench) cutoverValidate(ctx context.Context, dir string, m *testenv.MinIOServer, n, conc, round int) (*validateResult, error) {
	pdir := mkdir(dir, fmt.Sprintf("cutover-%d", round))
	src := validatePlan(m, validateBucket, conc)
	run, err := b.runPlan(ctx, pdir, src, []string{"secret_key=" + m.SecretKey}, fmt.Sprintf("validate_objects-%d", round))
	if err != nil {
		return nil, err
	}
	step, err := run.stepDuration("validate_objects.all")
	if err != nil {
		return nil, err
	}
	checked, failed := run.output("validate_objects.all", "checked"), run.output("validate_objects.all", "failed")
	var nc int
	fmt.Sscan(checked, &nc)
	return &validateResult{wall: step, checked: nc,
		detail: fmt.Sprintf("checked=%s failed=%s of %d; step %.2fs, whole run %.2fs; concurrency %d", checked, failed, n, step.Seconds(), run.Wall.Seconds(), conc),
		extra:  map[string]Float{"objects": Float(n), "run_wall_s": Float(run.Wall.Seconds()), "step_s": Float(step.Seconds())}}, nil
}

// validatePlan is a plan reading every object of bucket with
// validate_objects, conc at once.
func validatePlan(m *testenv.MinIOServer, bucket string, conc int) string {
	return fmt.Sprintf(`cutover "bench-validate" {}
variable "secret_key" { sensitive = true }
minio "m" {
  endpoint   = %q
  access_key = %q
  secret_key = var.secret_key
}
step "validate_objects" "all" {
  minio       = minio.m
  buckets     = [%q]
  sample      = "all"
  concurrency = %d
}
`, m.Endpoint, m.AccessKey, bucket, conc)
}

// mcHeadLoop runs `mc head` (its default 10 lines) on a sample of objects
// spread over the bucket, one after the other, as a shell loop would.
// Success is judged by what mc printed (the whole object: every object is
// shorter than 10 lines), not by its exit status: mc head exits 1 on an
// object shorter than its line count even after printing it. Its rate is
// over the sample; it is not run on all N (about 25 ms an object), and
// nothing is extrapolated: the ratio target is on mcHeadParallel.
func (b *bench) mcHeadLoop(ctx context.Context, m *testenv.MinIOServer, n int) (*validateResult, error) {
	mc, err := b.tool("mc")
	if err != nil {
		return nil, err
	}
	env := mcEnv(m)
	k := min(b.sizes.MCHeadSample, n)
	step := n / k
	ok, nonZero := 0, 0
	var firstBad string
	start := time.Now()
	for j := 0; j < k; j++ {
		i := j * step
		out, errOut, code, err := runCmd(ctx, env, mc, "head", testenv.MCAlias+"/"+validateBucket+"/"+objectName(i))
		if err != nil {
			return nil, err
		}
		if code != 0 {
			nonZero++
		}
		if out == objectBody(i) {
			ok++
		} else if firstBad == "" {
			firstBad = fmt.Sprintf("%s: printed %q, exit %d, %s", objectName(i), out, code, lastLine(errOut))
		}
	}
	wall := time.Since(start)
	perObj := wall / time.Duration(k)
	detail := fmt.Sprintf("%d objects spread over the %d in %.2fs (%.1f ms each, one after the other), %d printed the object's bytes, %d exited 1 all the same (shorter than 10 lines); rate over this sample",
		k, n, wall.Seconds(), float64(perObj.Microseconds())/1000, ok, nonZero)
	if firstBad != "" {
		detail += "; first failure " + firstBad
	}
	// rate over the sample; checked = ok keeps a failing mc at 0
	return &validateResult{wall: wall, checked: ok, detail: detail,
		extra: map[string]Float{"objects": Float(k)}}, nil
}

// mcHeadParallel runs `mc head` on objects 0..n-1 of bucket, conc
// processes at once, as an operator would with `xargs -P 16`: real, over
// all n objects. Success is judged as in mcHeadLoop.
func (b *bench) mcHeadParallel(ctx context.Context, m *testenv.MinIOServer, bucket string, n, conc int) (*validateResult, error) {
	mc, err := b.tool("mc")
	if err != nil {
		return nil, err
	}
	env := mcEnv(m)
	var ok, nonZero atomic.Int64
	var mu sync.Mutex
	var firstBad string
	start := time.Now()
	err = parallel(ctx, n, conc, func(ctx context.Context, i int) error {
		out, errOut, code, err := runCmd(ctx, env, mc, "head", testenv.MCAlias+"/"+bucket+"/"+objectName(i))
		if err != nil {
			return err
		}
		if code != 0 {
			nonZero.Add(1)
		}
		if out == objectBody(i) {
			ok.Add(1)
			return nil
		}
		mu.Lock()
		if firstBad == "" {
			firstBad = fmt.Sprintf("%s: printed %q, exit %d, %s", objectName(i), out, code, lastLine(errOut))
		}
		mu.Unlock()
		return nil
	})
	wall := time.Since(start)
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("%d/%d printed the object's bytes in %.2fs, %d processes at once (%d exited 1 all the same: shorter than 10 lines); not extrapolated",
		ok.Load(), n, wall.Seconds(), conc, nonZero.Load())
	if firstBad != "" {
		detail += "; first failure " + firstBad
	}
	return &validateResult{wall: wall, checked: int(ok.Load()), detail: detail, extra: map[string]Float{"objects": Float(n)}}, nil
}
