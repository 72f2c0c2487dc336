package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// Section 4: peak RSS of the real cutover binary running migrate_keys FS ->
// FS, at each key count of the run (10k and 100k by default).

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// cutoverBinary builds ./cmd/cutover into the scratch space, once.
func (b *bench) cutoverBinary(ctx context.Context) (string, error) {
	buildOnce.Do(func() {
		buildPath = filepath.Join(b.scratch, "cutover")
		b.logf("building ./cmd/cutover")
		_, errOut, code, err := runCmd(ctx, os.Environ(), "go", "build", "-C", b.root, "-o", buildPath, "./cmd/cutover")
		if err == nil && code != 0 {
			err = fmt.Errorf("go build ./cmd/cutover: exit %d: %s", code, errOut)
		}
		buildErr = err
	})
	return buildPath, buildErr
}

// fillFSKeys writes n KES key files (keskey values, as the fs store and
// KES write them) into dir, 32 at once. They are not fsynced: they are a
// fixture, and the page cache holds them either way.
func fillFSKeys(ctx context.Context, dir string, n int) error {
	now := time.Now().UTC()
	return parallel(ctx, n, 32, func(ctx context.Context, i int) error {
		m := make([]byte, 32)
		if _, err := rand.Read(m); err != nil {
			return err
		}
		v, err := keskey.Encode(providers.Key{Material: m, Algorithm: keskey.AES256}, "bench", now)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, keyName(i)), v, 0o600)
	})
}

// selfHWM is this harness's own peak RSS, in MiB.
func selfHWM() float64 { return float64(readVmHWM("/proc/self/status")) / 1024 }

func (b *bench) runMemory(ctx context.Context) error {
	bin, err := b.cutoverBinary(ctx)
	if err != nil {
		return err
	}
	var last float64
	var lastN int
	for _, n := range b.sizes.MemoryKeys {
		dir, err := b.dir(fmt.Sprintf("memory-%d", n))
		if err != nil {
			return err
		}
		src, dst := mkdir(dir, "src"), mkdir(dir, "dst")
		b.logf("memory: writing %d key files", n)
		t0 := time.Now()
		if err := fillFSKeys(ctx, src, n); err != nil {
			return err
		}
		b.logf("memory: %d key files in %s; running cutover run", n, time.Since(t0).Round(time.Millisecond))
		planSrc := fmt.Sprintf(`cutover "bench-memory" {}
kms "src" {
  type = "fs"
  path = %q
}
kms "dst" {
  type = "fs"
  path = %q
}
step "migrate_keys" "copy" {
  from        = kms.src
  to          = kms.dst
  concurrency = %d
}
`, src, dst, b.sizes.Concurrency)
		pdir := mkdir(dir, "plan")
		if err := os.WriteFile(filepath.Join(pdir, "plan.hcl"), []byte(planSrc), 0o600); err != nil {
			return err
		}
		// Peak RSS is a worst case: run it Rounds times on fresh targets
		// and report the highest.
		var peaks []string
		var cr childRun
		var wall time.Duration
		for round := 1; round <= b.sizes.Rounds; round++ {
			if round > 1 {
				if err := os.RemoveAll(dst); err != nil {
					return err
				}
				if err := os.RemoveAll(filepath.Join(pdir, ".cutover")); err != nil {
					return err
				}
				mkdir(dir, "dst")
			}
			start := time.Now()
			r, errOut, code, err := runCmdUsage(ctx, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + pdir},
				bin, "run", filepath.Join(pdir, "plan.hcl"))
			w := time.Since(start)
			if err != nil {
				return err
			}
			if code != 0 {
				return fmt.Errorf("cutover run (%d keys) exited %d: %s %s", n, code, lastLine(r.out), lastLine(errOut))
			}
			entries, err := os.ReadDir(dst)
			if err != nil {
				return err
			}
			if len(entries) != n {
				return fmt.Errorf("cutover run (%d keys) left %d keys at the target", n, len(entries))
			}
			b.logf("memory: %d keys: peak RSS %.1f MiB (ru_maxrss %.1f, harness %.1f), %s", n, r.maxRSSMiB, r.ruMaxRSSMiB, selfHWM(), w.Round(time.Millisecond))
			peaks = append(peaks, fmt.Sprintf("%.1f", r.maxRSSMiB))
			if r.maxRSSMiB >= cr.maxRSSMiB {
				cr, wall = r, w
			}
		}
		b.report.Add(Metric{Section: "memory", Name: fmt.Sprintf("peak RSS, migrate_keys FS->FS, %dk keys", n/1000), Value: Float(cr.maxRSSMiB), Unit: "MiB",
			Detail: fmt.Sprintf("`cutover run` binary, VmHWM sampled every 10ms, highest of %d runs (%s MiB); %d/%d keys at target in %.1fs (%.0f keys/s, fsync per key), CPU %.1fs",
				len(peaks), strings.Join(peaks, ", "), n, n, wall.Seconds(), Rate(int64(n), wall), cr.cpu.Seconds()),
			Extra: map[string]Float{"vmhwm_mib": Float(cr.maxRSSMiB), "ru_maxrss_mib": Float(cr.ruMaxRSSMiB), "harness_vmhwm_mib": Float(selfHWM()),
				"wall_s": Float(wall.Seconds()), "keys": Float(n), "cpu_s": Float(cr.cpu.Seconds())}})
		last, lastN = cr.maxRSSMiB, n
		if !b.keep {
			os.RemoveAll(dir) // 100k files: do not keep them around
		}
	}
	b.report.AddTarget(Target{Section: "memory", Name: "peak RSS of migrate_keys at 100k keys", Value: Float(last), Op: AtMost, Limit: 64, Unit: "MiB",
		Detail: fmt.Sprintf("measured at %d keys", lastN)})
	return nil
}
