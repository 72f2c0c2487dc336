package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// Section 5: the downtime of the MinIO example (static key -> KES on
// Vault), run for real: from the start of the drain (S3 frozen) to the end
// of the resume (S3 served again), next to what the restart and the
// readiness check alone took in the same run.

const (
	examplePlan   = "examples/minio-static-to-kes/plan.hcl"
	staticKeyName = "my-minio-key"
)

var exampleBuckets = []string{"photos", "ledger", "logs"}

// downtimeRig is the servers and files the example plan runs against, set
// up as the example's test sets them up: Vault (KV v2, AppRole), KES on
// that Vault, MinIO on its static key under the supervisor with three
// buckets encrypted by default, the env files of three nodes, an age
// identity for the key backup.
type downtimeRig struct {
	minio *testenv.MinIOServer
	kes   *testenv.KESServer
	vars  map[string]string
	objs  int
}

func (b *bench) newDowntimeRig(ctx context.Context, dir string, srv *servers) (*downtimeRig, error) {
	b.logf("downtime: starting vault, kes (vault keystore), minio (static key)")
	v, err := testenv.StartVault(mkdir(dir, "vault"))
	if err != nil {
		return nil, err
	}
	srv.add(v)
	k, err := testenv.StartKES(mkdir(dir, "kes"), testenv.KESOptions{Vault: v})
	if err != nil {
		return nil, err
	}
	srv.add(k)
	roleID, secretID, err := v.NewAppRole("cutover-read", fmt.Sprintf("path \"%[1]s/data/%[2]s/*\" { capabilities = [\"read\"] }\npath \"%[1]s/metadata/%[2]s\" { capabilities = [\"list\"] }\n",
		k.Engine, k.Prefix))
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	m, err := testenv.StartMinIO(mkdir(dir, "minio"), testenv.MinIOOptions{KMSEnv: testenv.StaticKeyEnv(staticKeyName, key)})
	if err != nil {
		return nil, err
	}
	srv.add(m)
	n := b.sizes.DowntimeObjs
	if err := fillExampleBuckets(ctx, m, n); err != nil {
		return nil, err
	}
	files, err := nodeEnvFiles(m, dir, 3)
	if err != nil {
		return nil, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	idFile := filepath.Join(dir, "operator.agekey")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		return nil, err
	}
	vars := map[string]string{
		"env_files": hclList(files...), "restart_command": hclList(m.RestartCommand()...),
		"minio_endpoint": m.Endpoint, "minio_access_key": m.AccessKey, "minio_secret_key": m.SecretKey,
		"buckets": hclList(exampleBuckets...), "kes_endpoint": k.Endpoint, "kes_api_key": k.APIKey, "kes_ca_file": k.CAFile,
		"key_name": staticKeyName, "vault_endpoint": v.Addr, "vault_engine": k.Engine, "vault_prefix": k.Prefix,
		"vault_role_id": roleID, "vault_secret_id": secretID, "backup_file": filepath.Join(dir, "minio-keys.age"),
		"backup_recipients": hclList(id.Recipient().String()), "backup_identity_file": idFile,
		"kes_cli": filepath.Join(b.bin, "kes"),
	}
	return &downtimeRig{minio: m, kes: k, vars: vars, objs: n}, nil
}

// fillExampleBuckets makes the buckets (SSE-S3 by default) and writes n
// objects round robin, of a few bytes to 4 KiB with every 50th of
// 300 KiB, every third with the SSE-S3 header as well (as the example's
// test writes them).
func fillExampleBuckets(ctx context.Context, m *testenv.MinIOServer, n int) error {
	c, err := newS3(m, 16)
	if err != nil {
		return err
	}
	for _, bk := range exampleBuckets {
		if err := c.MakeBucket(ctx, bk, miniogo.MakeBucketOptions{}); err != nil {
			return err
		}
		if err := c.SetBucketEncryption(ctx, bk, sse.NewConfigurationSSES3()); err != nil {
			return err
		}
	}
	return parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		size := 16 + (i*7919)%4096
		if i%50 == 0 {
			size = 300 << 10
		}
		data := bytes.Repeat([]byte{byte(i)}, size)
		copy(data, fmt.Sprintf("before object %d of %d\n", i, n))
		opts := miniogo.PutObjectOptions{}
		if i%3 == 0 {
			opts.ServerSideEncryption = encrypt.NewSSE()
		}
		_, err := c.PutObject(ctx, exampleBuckets[i%len(exampleBuckets)], fmt.Sprintf("before/%04d", i), bytes.NewReader(data), int64(size), opts)
		return err
	})
}

// nodeEnvFiles returns MinIO's env file and n-1 copies standing for the
// other nodes' files.
func nodeEnvFiles(m *testenv.MinIOServer, dir string, n int) ([]string, error) {
	first, err := os.ReadFile(m.EnvFile)
	if err != nil {
		return nil, err
	}
	files := []string{m.EnvFile}
	for i := 2; i <= n; i++ {
		p := filepath.Join(mkdir(dir, fmt.Sprintf("node%d", i)), "minio.env")
		if err := os.WriteFile(p, first, 0o600); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

// hclList renders ss as an HCL list of strings.
func hclList(ss ...string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

var variableDecl = regexp.MustCompile(`(?m)^variable\s+"([A-Za-z0-9_-]+)"`)

// varsFor returns -var NAME=VALUE for the variables src declares and vars
// has (pass only what the example plan declares: it may change).
func varsFor(src string, vars map[string]string) []string {
	var out []string
	for _, m := range variableDecl.FindAllStringSubmatch(src, -1) {
		if v, ok := vars[m[1]]; ok {
			out = append(out, m[1]+"="+v)
		}
	}
	return out
}

func (b *bench) runDowntime(ctx context.Context) error {
	dir, err := b.dir("downtime")
	if err != nil {
		return err
	}
	var srv servers
	defer srv.stopAll()
	rig, err := b.newDowntimeRig(ctx, dir, &srv)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(b.root, examplePlan))
	if err != nil {
		return err
	}
	src := string(data)
	b.logf("downtime: running %s", examplePlan)
	run, err := b.runPlan(ctx, mkdir(dir, "example"), src, varsFor(src, rig.vars), "downtime")
	if err != nil {
		return fmt.Errorf("%s did not complete: %w", examplePlan, err)
	}
	return b.reportDowntime(ctx, run, examplePlan, rig)
}

// reportDowntime reads the window from state.json: drain start to resume
// end, and the restart and readiness steps' own times.
func (b *bench) reportDowntime(ctx context.Context, run *planRun, which string, rig *downtimeRig) error {
	drain, resume, restart, ready := findStep(run, "drain."), findStep(run, "resume."), findStep(run, "restart."), findStep(run, "health_check.")
	if drain == "" || resume == "" || restart == "" || ready == "" {
		return fmt.Errorf("plan %s lacks a drain, resume, restart or health_check step", which)
	}
	start, _, err := run.stepTime(drain)
	if err != nil {
		return err
	}
	_, end, err := run.stepTime(resume)
	if err != nil {
		return err
	}
	rs, err := run.stepDuration(restart)
	if err != nil {
		return err
	}
	hc, err := run.stepDuration(ready)
	if err != nil {
		return err
	}
	down := end.Sub(start)
	base := rs + hc
	// what each step inside the window took, and what happened between
	// them: after a restart the engine re-applies the drain (retrying
	// while MinIO comes back, then confirming the freeze); elsewhere the
	// gaps are the engine's own bookkeeping (checkpoints, window check)
	var parts []string
	var reassert, other time.Duration
	extra := map[string]Float{"downtime_s": Float(down.Seconds()), "restart_s": Float(rs.Seconds()), "health_check_s": Float(hc.Seconds())}
	prevEnd, prevID := start, ""
	for _, st := range run.State.Steps {
		s, e, err := run.stepTime(st.ID)
		if err != nil || s.Before(start) || e.After(end) {
			continue
		}
		if gap := s.Sub(prevEnd); prevID != "" {
			if strings.HasPrefix(prevID, "restart.") {
				reassert += gap
				parts = append(parts, fmt.Sprintf("[drain re-applied after %s %.2fs]", prevID, gap.Seconds()))
			} else {
				other += gap
			}
		}
		d := e.Sub(s)
		parts = append(parts, fmt.Sprintf("%s %.2fs", st.ID, d.Seconds()))
		extra["step_"+st.ID+"_s"] = Float(d.Seconds())
		prevEnd, prevID = e, st.ID
	}
	extra["reassert_drain_s"] = Float(reassert.Seconds())
	extra["engine_gaps_s"] = Float(other.Seconds())
	_, hcEnd, _ := run.stepTime(ready)
	rsStart, _, _ := run.stepTime(restart)
	span := hcEnd.Sub(rsStart)
	extra["restart_start_to_ready_end_s"] = Float(span.Seconds())
	checked := run.output(findStep(run, "validate_objects."), "checked")
	b.report.Add(Metric{Section: "downtime", Name: "downtime: drain start -> resume end", Value: Float(down.Seconds()), Unit: "s",
		Detail: fmt.Sprintf("plan %s, %d objects in %d buckets (validate_objects checked %s); timeline: %s; other gaps between steps %.2fs",
			which, rig.objs, len(exampleBuckets), checked, strings.Join(parts, ", "), other.Seconds()),
		Extra: extra})
	b.report.Add(Metric{Section: "downtime", Name: "diagnostic: restart + readiness steps (same run)", Value: Float(base.Seconds()), Unit: "s",
		Detail: fmt.Sprintf("%s %.2fs + %s %.2fs, step times from state.json (the restart command returns before MinIO is up); from the restart's start to the readiness check's end, with the drain re-applied in between: %.2fs",
			restart, rs.Seconds(), ready, hc.Seconds(), span.Seconds())})
	how := fmt.Sprintf("bare restart + readiness, median of %d after the run", bareRestarts)
	bare, err := medianBareRestart(ctx, rig.minio, bareRestarts)
	if err != nil {
		b.report.Note("downtime: bare restart after the run failed (%v); the target compares with the steps' own times", err)
		bare, how = base, "restart + readiness steps' own times"
	}
	b.report.Add(Metric{Section: "downtime", Name: "restart + readiness alone (bare)", Value: Float(bare.Seconds()), Unit: "s",
		Detail: fmt.Sprintf("after the run, MinIO on KES: the supervisor's restart command, then /minio/health/ready polled every 10ms, no cutover; median of %d", bareRestarts)})
	over := down - bare
	b.report.AddTarget(Target{Section: "downtime", Name: "downtime - (restart + readiness)", Value: Float(over.Seconds()), Op: AtMost, Limit: 1, Unit: "s",
		Detail: fmt.Sprintf("downtime %.2fs vs %s %.2fs; %s", down.Seconds(), how, bare.Seconds(), which)})
	return nil
}

// bareRestarts is how many bare restarts the baseline takes the median of.
const bareRestarts = 3

// medianBareRestart runs bareRestart n times and returns the median.
func medianBareRestart(ctx context.Context, m *testenv.MinIOServer, n int) (time.Duration, error) {
	var ds []time.Duration
	for range n {
		d, err := bareRestart(ctx, m)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// findStep returns the ID of the plan's first step whose ID starts with
// prefix ("drain.").
func findStep(run *planRun, prefix string) string {
	for _, s := range run.State.Steps {
		if strings.HasPrefix(s.ID, prefix) {
			return s.ID
		}
	}
	return ""
}

// bareRestart restarts MinIO through its supervisor and polls readiness
// every 10ms: the floor of restart + readiness on this machine.
func bareRestart(ctx context.Context, m *testenv.MinIOServer) (time.Duration, error) {
	argv := m.RestartCommand()
	start := time.Now()
	out, errOut, code, err := runCmd(ctx, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + m.Dir}, argv...)
	if err != nil || code != 0 {
		return 0, fmt.Errorf("%q: exit %d %v: %s %s", argv, code, err, out, errOut)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Since(start) < 2*time.Minute {
		resp, err := hc.Get(m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("minio not ready 2m after the restart")
}
