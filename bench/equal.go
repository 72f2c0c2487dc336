package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	miniogo "github.com/minio/minio-go/v7"

	"github.com/cutover/cutover/checkpoint"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/plan"
)

// The comparison with `kes migrate` over equal work. At N = 10,000 keys
// kes migrate v0.24.0 copies 1,025 and reports success (its Vault listing
// stops after the first page), so no ratio exists at N. Here the source
// holds KesEqualKeys keys, fewer than a page, which kes migrate copies
// completely; cutover and kes migrate then do the same work and both run
// the way an operator runs them: as processes, timed from exec to exit
// (`cutover run plan.hcl`: start-up, plan load, preflight, the step, the
// final save). Rounds alternate the two on fresh target prefixes, and the
// best round of each is compared, as in the rest of the section.

// migrateEqualWork runs the equal-work comparison on v and reports it.
func (b *bench) migrateEqualWork(ctx context.Context, dir string, v *testenv.VaultServer, raw *vaultapi.Client, st vaultStorage, conc int, pids map[string]int) error {
	m := b.sizes.KesEqualKeys
	b.logf("migrate: equal work: %d keys to eq-src", m)
	if err := fillVault(ctx, v, "eq-src", m); err != nil {
		return err
	}
	bin, err := b.cutoverBinary(ctx)
	if err != nil {
		return err
	}
	var cut, kes []*migrateResult
	for round := 1; round <= b.sizes.Rounds; round++ {
		meter := newCPUMeter(pids)
		r, err := b.cutoverProcessMigrate(ctx, bin, dir, v, raw, "eq-src", fmt.Sprintf("eq-dst-cutover-%d", round), m, conc)
		if err != nil {
			return fmt.Errorf("equal work, cutover: %w", err)
		}
		addCPU(r, meter)
		cut = append(cut, r)
		meter = newCPUMeter(pids)
		k, err := b.kesMigrate(ctx, dir, v, raw, "eq-src", fmt.Sprintf("eq-dst-kes-%d", round))
		if err != nil {
			return fmt.Errorf("equal work, kes migrate: %w", err)
		}
		addCPU(k, meter)
		kes = append(kes, k)
		b.logf("migrate: equal work round %d: cutover %d in %s, kes migrate %d in %s", round, r.copied, r.wall, k.copied, k.wall)
	}
	bc, bk := bestOf(cut, m), bestOf(kes, m)
	cr, kr := migrateRate(bc, m), migrateRate(bk, m)
	for _, row := range []struct {
		name string
		r    *migrateResult
		rate float64
	}{{"cutover run (process)", bc, cr}, {"kes migrate (process)", bk, kr}} {
		extra := map[string]Float{"wall_s": Float(row.r.wall.Seconds()), "copied": Float(row.r.copied), "keys": Float(m)}
		for k, x := range row.r.extra {
			extra[k] = x
		}
		b.report.Add(Metric{Section: "migrate", Name: fmt.Sprintf("equal work, %d keys: %s [%s]", m, row.name, st.name), Value: Float(row.rate), Unit: "keys/s",
			Detail: fmt.Sprintf("%d/%d at target in %.2fs, exec to exit (best of %d); says %q; %s", row.r.copied, m, row.r.wall.Seconds(), len(cut), row.r.reported, cpuText(row.r.extra)),
			Extra:  extra})
	}
	b.report.AddTarget(Target{Section: "migrate", Name: fmt.Sprintf("migrate_keys vs kes migrate, same %d keys [%s]", m, st.name), Value: Float(Ratio(cr, kr)), Op: AtLeast, Limit: 10, Unit: "x",
		Detail: fmt.Sprintf("%s / %s keys/s, both processes timed exec to exit, both copying all %d keys; cutover verifies every key, kes migrate does not", FormatValue(cr), FormatValue(kr), m)})
	return nil
}

func addCPU(r *migrateResult, m *cpuMeter) {
	for k, v := range m.stop() {
		r.extra[k] = v
	}
}

// cutoverProcessMigrate runs `cutover run` of a migrate_keys plan from
// prefix from to prefix to, as a process, and counts the target.
func (b *bench) cutoverProcessMigrate(ctx context.Context, bin, dir string, v *testenv.VaultServer, raw *vaultapi.Client, from, to string, n, conc int) (*migrateResult, error) {
	pdir := filepath.Join(dir, to)
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return nil, err
	}
	run, wall, err := runCutover(ctx, bin, pdir, migratePlan(v, from, to, conc), "vault_token="+v.Token)
	if err != nil {
		return nil, err
	}
	copied, err := countVault(ctx, raw, to)
	if err != nil {
		return nil, err
	}
	return &migrateResult{wall: wall, copied: copied, success: true, reported: "exit 0; every key read back and compared",
		extra: map[string]Float{"cpu_child_s": Float(run.cpu.Seconds()), "maxrss_child_mib": Float(run.maxRSSMiB)}}, nil
}

// validateEqualWork compares validate_objects with `mc head` over the
// same objects: a second bucket of MCEqualObjs objects, every one of which
// both read. `cutover run plan.hcl` (the built binary) and MCHeadConc `mc
// head` processes at once (as `xargs -P 16` would run them) are both timed
// from the first exec to the last exit, one round each (mc head costs a
// process per object: minutes on a busy machine). Nothing is extrapolated.
func (b *bench) validateEqualWork(ctx context.Context, dir string, m *testenv.MinIOServer, c *miniogo.Client, conc int, pids map[string]int) error {
	k := b.sizes.MCEqualObjs
	b.logf("validate: equal work: PUT %d objects into %s", k, equalBucket)
	if err := fillBucket(ctx, c, equalBucket, k); err != nil {
		return err
	}
	bin, err := b.cutoverBinary(ctx)
	if err != nil {
		return err
	}
	meter := newCPUMeter(pids)
	bc, err := b.cutoverProcessValidate(ctx, bin, mkdir(dir, "eq-cutover"), m, k, conc)
	if err != nil {
		return fmt.Errorf("equal work, cutover: %w", err)
	}
	addValidateCPU(bc, meter)
	meter = newCPUMeter(pids)
	bm, err := b.mcHeadParallel(ctx, m, equalBucket, k, b.sizes.MCHeadConc)
	if err != nil {
		return fmt.Errorf("equal work, mc head: %w", err)
	}
	addValidateCPU(bm, meter)
	rate := func(r *validateResult) float64 {
		if r.checked < k {
			return 0
		}
		return Rate(int64(k), r.wall)
	}
	for _, row := range []struct {
		name string
		r    *validateResult
	}{{"cutover run (process)", bc}, {fmt.Sprintf("mc head, %d at once", b.sizes.MCHeadConc), bm}} {
		extra := map[string]Float{"wall_s": Float(row.r.wall.Seconds()), "checked": Float(row.r.checked), "objects": Float(k)}
		for key, x := range row.r.extra {
			extra[key] = x
		}
		b.report.Add(Metric{Section: "validate", Name: fmt.Sprintf("equal work, %d objects: %s", k, row.name), Value: Float(rate(row.r)), Unit: "objects/s",
			Detail: fmt.Sprintf("%s; CPU s: minio %.1f, client %.1f", row.r.detail, float64(row.r.extra["cpu_minio_s"]), float64(row.r.extra["cpu_bench_s"])),
			Extra:  extra})
	}
	b.report.AddTarget(Target{Section: "validate", Name: fmt.Sprintf("validate_objects vs mc head %d at once, same %d objects", b.sizes.MCHeadConc, k), Value: Float(Ratio(rate(bc), rate(bm))), Op: AtLeast, Limit: 20, Unit: "x",
		Detail: fmt.Sprintf("%s / %s objects/s, both processes timed from exec to exit, both reading every one of the %d objects", FormatValue(rate(bc)), FormatValue(rate(bm)), k)})
	return nil
}

// equalBucket holds the objects of the equal-work comparison with mc head.
const equalBucket = "equal"

func addValidateCPU(r *validateResult, m *cpuMeter) {
	for k, v := range m.stop() {
		r.extra[k] = v
	}
}

// cutoverProcessValidate runs `cutover run` of a validate_objects plan
// over equalBucket as a process; checked is what the step recorded.
func (b *bench) cutoverProcessValidate(ctx context.Context, bin, pdir string, m *testenv.MinIOServer, k, conc int) (*validateResult, error) {
	run, wall, err := runCutover(ctx, bin, pdir, validatePlan(m, equalBucket, conc), "secret_key="+m.SecretKey)
	if err != nil {
		return nil, err
	}
	store, err := checkpoint.OpenExisting(filepath.Join(pdir, ".cutover", "bench-validate"))
	if err != nil {
		return nil, err
	}
	st, err := store.Load()
	if err != nil {
		return nil, err
	}
	checked := 0
	if rec := st.Step("validate_objects.all"); rec != nil {
		checked, _ = strconv.Atoi(rec.Outputs["checked"])
	}
	return &validateResult{wall: wall, checked: checked,
		detail: fmt.Sprintf("checked=%d of %d in %.2fs, exec to exit (start-up, plan load, preflight, listing, reads, final save); concurrency %d", checked, k, wall.Seconds(), conc),
		extra:  map[string]Float{"objects": Float(k), "cpu_child_s": Float(run.cpu.Seconds())}}, nil
}

// runCutover writes src as pdir/plan.hcl and runs `cutover run` on it as a
// process, the variable given as NAME=VALUE through CUTOVER_VAR_NAME; wall
// is from exec to exit. A non-zero exit is an error.
func runCutover(ctx context.Context, bin, pdir, src, variable string) (childRun, time.Duration, error) {
	planFile := filepath.Join(pdir, "plan.hcl")
	if err := os.WriteFile(planFile, []byte(src), 0o600); err != nil {
		return childRun{}, 0, err
	}
	env := []string{"HOME=" + pdir, "PATH=" + os.Getenv("PATH"), plan.EnvVarPrefix + variable}
	start := time.Now()
	run, errOut, code, err := runCmdUsage(ctx, env, bin, "run", planFile)
	wall := time.Since(start)
	if err == nil && code != 0 {
		err = fmt.Errorf("cutover run exited %d: %s %s", code, lastLine(run.out), firstLines(errOut, 5))
	}
	return run, wall, err
}
