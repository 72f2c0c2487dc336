package validateobjects

import (
	"context"
	"github.com/cutover/cutover/internal/testing/steptest"
	"strconv"
	"testing"
	"time"
)

// BenchmarkValidateObjects reads the first 64 bytes of 2,000 small SSE-S3
// objects on a real single-drive MinIO with a static key, every object
// (sample = "all"), at several concurrencies, and reports objects per second.
func BenchmarkValidateObjects(b *testing.B) {
	const objects = 2000
	s := startMinIO(b, randomKey(b))
	s.bucket(b, "crypt", true)
	s.put(b, "crypt", "obj-%05d", objects, false)
	for _, workers := range []int{1, 16, 64} {
		b.Run("concurrency="+strconv.Itoa(workers), func(b *testing.B) {
			step := s.step(all, workers, "crypt")
			start := time.Now()
			for b.Loop() {
				rt := steptest.NewRuntime("validate_objects.test")
				if err := step.Apply(context.Background(), rt); err != nil {
					b.Fatal(err)
				}
				if rt.Outputs["checked"] != strconv.Itoa(objects) {
					b.Fatalf("checked %s objects, want %d", rt.Outputs["checked"], objects)
				}
			}
			b.ReportMetric(float64(objects*b.N)/time.Since(start).Seconds(), "objects/s")
		})
	}
}
