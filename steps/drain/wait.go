package drain

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover/cutover/steps"
)

// waitZero reads the in-flight count every interval until it is 0 or ctx
// ends, reporting progress; at 0 it sets the output `drained` and the
// summary. An unreadable count is read again until then. When ctx ends,
// the error says how many were in flight at the last read, or why the last
// read failed; a read that the end of ctx cut short says nothing, so the
// one before it stands.
func waitZero(ctx context.Context, rt steps.Runtime, interval time.Duration, read func(context.Context) (int64, error)) error {
	start, first := time.Now(), int64(-1)
	var stop error // what a wait ending now reports
	for {
		n, err := read(ctx)
		switch {
		case err != nil && ctx.Err() != nil && stop != nil:
			return stop
		case err != nil:
			stop = fmt.Errorf("in-flight count unreadable: %w", err)
		default:
			if first < 0 {
				first = n
			}
			rt.Progress(steps.Progress{Done: first - n, Total: first, Unit: "in flight"})
			if n == 0 {
				rt.SetOutput("drained", fmt.Sprint(first))
				rt.SetSummary(fmt.Sprintf("paused; %d in flight drained in %s", first, time.Since(start).Round(time.Millisecond)))
				return nil
			}
			stop = fmt.Errorf("%d still in flight when the drain timed out", n)
		}
		select {
		case <-ctx.Done():
			return stop
		case <-time.After(interval):
		}
	}
}
