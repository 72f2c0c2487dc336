package migratekeys_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/plantest"
	"github.com/cutover/cutover/plan"
)

// BenchmarkMigrateKeysFS measures migrate_keys + verify_keys, FS -> FS, in
// keys per second, and the peak heap in use while they run: it stays flat as
// the key count grows (names stream from the store; nothing is kept per key).
func BenchmarkMigrateKeysFS(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			benchPlan(b, n, func(b *testing.B) string { blocks, _, _ := fsPair(b, n); return blocks })
		})
	}
}

// BenchmarkMigrateKeysVault measures FS -> Vault KV v2 in KES's layout.
func BenchmarkMigrateKeysVault(b *testing.B) {
	v := sharedVault(b)
	const n = 2_000
	prefix := 0
	benchPlan(b, n, func(b *testing.B) string {
		prefix++
		return fmt.Sprintf("kms \"src\" {\n  type = \"fs\"\n  path = %q\n}\n", fillFS(b, n)) +
			vaultBlock("dst", v, "kv2", "v2", fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), prefix))
	}, "vault_token="+v.Token)
}

// benchPlan runs a migrate_keys + verify_keys plan over fresh stores each
// iteration and reports keys/s for the two steps together.
func benchPlan(b *testing.B, n int, blocks func(*testing.B) string, vars ...string) {
	var peak int64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := plantest.Load(b, b.TempDir(), header+blocks(b)+migrateStep(""), plan.Options{Vars: vars})
		runtime.GC()
		stop := watchHeap(&peak)
		b.StartTimer()
		start := time.Now()
		r := h.Run(context.Background())
		elapsed += time.Since(start)
		b.StopTimer()
		stop()
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "keys/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// watchHeap samples the heap in use until the returned function is called.
func watchHeap(peak *int64) func() {
	var stopped atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for !stopped.Load() {
			runtime.ReadMemStats(&ms)
			if h := int64(ms.HeapInuse); h > atomic.LoadInt64(peak) {
				atomic.StoreInt64(peak, h)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() { stopped.Store(true); <-done }
}
