package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/plan"
)

// Section 3: the engine's own costs, with no server involved: durable
// checkpoint writes, and loading (validating) a large plan.

func (b *bench) runEngine(ctx context.Context) error {
	dir, err := b.dir("engine")
	if err != nil {
		return err
	}
	if err := b.benchSave(dir); err != nil {
		return err
	}
	if err := b.benchSharedSave(ctx, dir); err != nil {
		return err
	}
	if err := b.benchStepOverhead(ctx, dir); err != nil {
		return err
	}
	return b.benchPlanLoad(ctx, dir)
}

// realisticState is a state.json like the one of the MinIO example plan
// (10 steps) half-way through its window: undo records, outputs and
// summaries on the steps already done.
func realisticState() *checkpoint.State {
	t0 := time.Now().UTC().Add(-10 * time.Minute)
	ids := []string{"backup_keys.static", "migrate_keys.to_kes", "verify_keys.on_kes", "kms_check.kes_key", "drain.s3",
		"env.kms", "restart.minio", "health_check.ready", "validate_objects.all", "resume.s3"}
	st := &checkpoint.State{Plan: "minio-static-to-kes", PlanFile: "/etc/cutover/minio-static-to-kes/plan.hcl",
		PlanHash: strings.Repeat("ab", 32), InputsMAC: strings.Repeat("cd", 32),
		RunID: "0123456789abcdef", Phase: checkpoint.PhaseRunning, StartedAt: t0}
	for i, id := range ids {
		s := checkpoint.StepState{ID: id, Status: checkpoint.StatusPending}
		if i < 6 {
			start, end := t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute+37*time.Second)
			s.Status, s.Attempts, s.StartedAt, s.FinishedAt = checkpoint.StatusDone, 1, &start, &end
			s.Undo = json.RawMessage(fmt.Sprintf(`{"files":[{"path":"/etc/default/minio","before_sha256":"%s","after_sha256":"%s","mode":384}],"journal":"keys","created":%d}`,
				strings.Repeat("1f", 32), strings.Repeat("2e", 32), 1000+i))
			s.Outputs = map[string]string{"count": "10000", "created": "10000", "skipped": "0", "replaced": "0", "file": "/var/backups/minio-keys.age"}
			s.Summary = "10000 keys: 10000 created, 0 identical skipped, 0 replaced, 0 already done before a resume; every key verified"
		}
		st.Steps = append(st.Steps, s)
	}
	w := t0.Add(4 * time.Minute)
	st.WindowStart = &w
	return st
}

// benchSave times checkpoint.Store.Save (JSON, temp file, fsync, rename,
// fsync of the directory) of realisticState, SaveStep (one state.log line,
// fsync), and everything the engine makes durable around one step
// (engine/run.go applyStep: a mark at start and at done, each with its
// audit line).
func (b *bench) benchSave(dir string) error {
	store, err := checkpoint.Open(filepath.Join(dir, "state"))
	if err != nil {
		return err
	}
	st := realisticState()
	data, _ := json.MarshalIndent(st, "", "  ")
	n := b.sizes.Saves
	for range 5 { // warm the directory entries and page cache
		if err := store.Save(st); err != nil {
			return err
		}
	}
	saves, err := timeMarks(st, n, func(*checkpoint.StepState) error { return store.Save(st) })
	if err != nil {
		return err
	}
	med := Median(saves)
	b.report.Add(Metric{Section: "engine", Name: "checkpoint Save (state.json, fsync)", Value: Float(ms(med)), Unit: "ms",
		Detail: fmt.Sprintf("median of %d; p90 %.2f ms, max %.2f ms; %d-byte state of 10 steps; file fsync + rename + dir fsync",
			n, ms(Percentile(saves, 90)), ms(Percentile(saves, 100)), len(data)),
		Extra: map[string]Float{"median_ms": Float(ms(med)), "p90_ms": Float(ms(Percentile(saves, 90))), "max_ms": Float(ms(Percentile(saves, 100))), "bytes": Float(len(data))}})

	marks, err := timeMarks(st, n, func(rec *checkpoint.StepState) error { return store.SaveStep(st, rec.ID) })
	if err != nil {
		return err
	}
	markMed := Median(marks)
	b.report.Add(Metric{Section: "engine", Name: "checkpoint SaveStep (state.log line, fsync)", Value: Float(ms(markMed)), Unit: "ms",
		Detail: fmt.Sprintf("median of %d; p90 %.2f ms; one step's record appended to state.log, as the engine marks a step started, done or failed", n, ms(Percentile(marks, 90))),
		Extra:  map[string]Float{"median_ms": Float(ms(markMed)), "p90_ms": Float(ms(Percentile(marks, 90)))}})

	perStep := make([]time.Duration, 0, n)
	for i := range n {
		rec := &st.Steps[6+i%4]
		t := time.Now()
		rec.Status = checkpoint.StatusStarted
		if err := store.AuditWithNextSave(checkpoint.AuditRecord{RunID: st.RunID, Event: "step.start", Step: rec.ID, User: "bench"}); err != nil {
			return err
		}
		if err := store.SaveStep(st, rec.ID); err != nil {
			return err
		}
		rec.Status = checkpoint.StatusDone
		if err := store.AuditWithNextSave(checkpoint.AuditRecord{RunID: st.RunID, Event: "step.done", Step: rec.ID, User: "bench",
			Fields: map[string]string{"elapsed": "37s"}}); err != nil {
			return err
		}
		if err := store.SaveStep(st, rec.ID); err != nil {
			return err
		}
		perStep = append(perStep, time.Since(t))
	}
	stepMed := Median(perStep)
	b.report.Add(Metric{Section: "engine", Name: "all durable writes of one step", Value: Float(ms(stepMed)), Unit: "ms",
		Detail: fmt.Sprintf("median of %d; p90 %.2f ms; 2 state.log lines, each synced in parallel with its audit line, as engine.applyStep does", n, ms(Percentile(perStep, 90))),
		Extra:  map[string]Float{"median_ms": Float(ms(stepMed)), "p90_ms": Float(ms(Percentile(perStep, 90)))}})
	b.report.AddTarget(Target{Section: "engine", Name: "checkpoint mark per step (median)", Value: Float(ms(markMed)), Op: AtMost, Limit: 2, Unit: "ms",
		Detail: fmt.Sprintf("SaveStep p90 %.2f ms; a whole Save is %.2f ms; a step's durable bookkeeping (2 marks with their audit lines) is %.2f ms", ms(Percentile(marks, 90)), ms(med), ms(stepMed))})
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// generatePlan writes a plan of n steps: a realistic mix of every step
// type that needs nothing contacted to load (HTTP drain and resume, env,
// restart, health_check, exec, validate_objects, migrate_keys,
// verify_keys, kms_check), with variables, locals, systems and
// references between steps.
func generatePlan(n int) string {
	var b strings.Builder
	b.WriteString(`cutover "bench-large" {
  description = "generated by bench/engine.go"
  window      = "8h"
}
variable "token" {
  sensitive = true
}
variable "base_url" {
  default = "http://127.0.0.1:8080"
}
variable "env_files" {
  type    = list(string)
  default = ["/etc/default/app-a", "/etc/default/app-b"]
}
locals {
  admin   = "${var.base_url}/admin"
  restart = ["systemctl", "restart", "app"]
}
kms "old" {
  type = "fs"
  path = "/var/lib/kes/old"
}
kms "new" {
  type = "fs"
  path = "/var/lib/kes/new"
}
minio "prod" {
  endpoint   = "http://127.0.0.1:9000"
  access_key = "admin"
  secret_key = var.token
}
`)
	kinds := []func(i int) string{
		func(i int) string {
			return fmt.Sprintf(`step "drain" "d%d" {
  pause_url    = "${local.admin}/pause"
  resume_url   = "${local.admin}/resume"
  inflight_url = "${local.admin}/inflight"
  timeout      = "5m"
}
`, i)
		},
		func(i int) string {
			return fmt.Sprintf(`step "env" "e%d" {
  files = var.env_files
  set   = { KMS_PROVIDER = "AWS", API_TOKEN = var.token, STEP = "%d" }
  unset = ["OLD_KMS_KEY"]
}
`, i, i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"restart\" \"r%d\" {\n  command = local.restart\n  timeout = \"2m\"\n}\n", i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"health_check\" \"h%d\" {\n  url          = \"${var.base_url}/health\"\n  body_contains = \"ok\"\n  timeout      = \"2m\"\n  retries      = 2\n}\n", i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"exec\" \"x%d\" {\n  command = [\"echo\", \"step %d\"]\n  description = \"step %d of the generated plan\"\n}\n", i, i, i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"validate_objects\" \"v%d\" {\n  minio   = minio.prod\n  buckets = [\"bucket-%d\"]\n  sample  = 100\n}\n", i, i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"migrate_keys\" \"m%d\" {\n  from    = kms.old\n  to      = kms.new\n  pattern = \"k%d-*\"\n  on_conflict = \"verify\"\n}\n", i, i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"verify_keys\" \"k%d\" {\n  from    = kms.old\n  to      = kms.new\n  pattern = \"k%d-*\"\n}\n", i, i)
		},
		func(i int) string {
			return fmt.Sprintf("step \"kms_check\" \"c%d\" {\n  kms = kms.new\n  key = \"k%d-main\"\n}\n", i, i)
		},
	}
	lastDrain := -1
	for i := 0; i < n; i++ {
		// every 10th step resumes the latest drain (a reference to an
		// earlier step)
		if i%10 == 9 && lastDrain >= 0 {
			fmt.Fprintf(&b, "step \"resume\" \"s%d\" {\n  drain = step.drain.d%d\n}\n", i, lastDrain)
			lastDrain = -1
			continue
		}
		k := i % len(kinds)
		if k == 0 {
			lastDrain = i
		}
		b.WriteString(kinds[k](i))
	}
	return b.String()
}

// benchPlanLoad times plan.Load of a generated plan of PlanSteps steps,
// as `cutover validate` loads it (Validating: variables may lack values),
// and as `cutover run` does (every value given).
func (b *bench) benchPlanLoad(ctx context.Context, dir string) error {
	n := b.sizes.PlanSteps
	path := filepath.Join(dir, "large.hcl")
	src := generatePlan(n)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		return err
	}
	load := func(opts plan.Options) ([]time.Duration, error) {
		var ds []time.Duration
		for range b.sizes.PlanLoads {
			t := time.Now()
			p, diags := plan.Load(path, opts)
			d := time.Since(t)
			if diags.HasErrors() {
				return nil, fmt.Errorf("generated plan does not load: %s", firstLines(diags.Error(), 5))
			}
			if len(p.Steps) != n {
				return nil, fmt.Errorf("generated plan has %d steps, want %d", len(p.Steps), n)
			}
			ds = append(ds, d)
		}
		return ds, nil
	}
	validate, err := load(plan.Options{Validating: true, Environ: []string{}})
	if err != nil {
		return err
	}
	full, err := load(plan.Options{Vars: []string{"token=s3cr3t-t0ken-value"}, Environ: []string{}})
	if err != nil {
		return err
	}
	med := Median(validate)
	b.report.Add(Metric{Section: "engine", Name: fmt.Sprintf("plan.Load, %d steps, validating", n), Value: Float(ms(med)), Unit: "ms",
		Detail: fmt.Sprintf("median of %d (min %.1f, max %.1f); %d KiB of HCL, 10 step types, as `cutover validate` loads it", len(validate),
			ms(Percentile(validate, 0)), ms(Percentile(validate, 100)), len(src)/1024),
		Extra: map[string]Float{"median_ms": Float(ms(med)), "max_ms": Float(ms(Percentile(validate, 100))), "bytes": Float(len(src))}})
	b.report.Add(Metric{Section: "engine", Name: fmt.Sprintf("plan.Load, %d steps, with values", n), Value: Float(ms(Median(full))), Unit: "ms",
		Detail: fmt.Sprintf("median of %d; as `cutover run` loads it", len(full)),
		Extra:  map[string]Float{"median_ms": Float(ms(Median(full)))}})
	if cli, err := b.timeValidateCLI(ctx, path); err == nil {
		b.report.Add(Metric{Section: "engine", Name: fmt.Sprintf("`cutover validate`, %d steps (process)", n), Value: Float(ms(Median(cli))), Unit: "ms",
			Detail: fmt.Sprintf("median of %d runs of the binary: process start, every backend and step type registered, load, print", len(cli)),
			Extra:  map[string]Float{"median_ms": Float(ms(Median(cli)))}})
	} else {
		b.report.Note("engine: timing `cutover validate`: %v", err)
	}
	b.report.AddTarget(Target{Section: "engine", Name: "1,000-step plan validated (median)", Value: Float(ms(med)), Op: AtMost, Limit: 100, Unit: "ms",
		Detail: fmt.Sprintf("plan.Load(Validating) of %d steps; with values %.1f ms", n, ms(Median(full)))})
	return nil
}

// timeValidateCLI runs `cutover validate path` a few times.
func (b *bench) timeValidateCLI(ctx context.Context, path string) ([]time.Duration, error) {
	bin, err := b.cutoverBinary(ctx)
	if err != nil {
		return nil, err
	}
	var ds []time.Duration
	for range max(3, b.sizes.PlanLoads/2) {
		t := time.Now()
		out, errOut, code, err := runCmd(ctx, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(path)}, bin, "validate", path)
		d := time.Since(t)
		if err != nil {
			return nil, err
		}
		if code != 0 {
			return nil, fmt.Errorf("cutover validate exited %d: %s %s", code, lastLine(out), firstLines(errOut, 5))
		}
		ds = append(ds, d)
	}
	return ds, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// timeMarks times n calls of save, each after marking one of the last four
// steps of realisticState started or done, as a run does.
func timeMarks(st *checkpoint.State, n int, save func(*checkpoint.StepState) error) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := range n {
		rec := &st.Steps[6+i%4]
		rec.Status = []checkpoint.Status{checkpoint.StatusStarted, checkpoint.StatusDone}[i%2]
		t := time.Now()
		if err := save(rec); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t))
	}
	return out, nil
}
