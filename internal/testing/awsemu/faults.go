package awsemu

import (
	"strings"
	"sync"
)

// faultTable holds injected faults and per-operation request counters.
type faultTable struct {
	mu     sync.Mutex
	queued map[string][]string // operation name or target -> error codes
	counts map[string]int      // target -> requests
}

func newFaultTable() faultTable {
	return faultTable{queued: map[string][]string{}, counts: map[string]int{}}
}

// FailNext makes the next call of op fail with the AWS error code code
// (e.g. "ThrottlingException", "KMSInternalException"). op is an operation
// name ("Encrypt") or a full X-Amz-Target value ("TrentService.Encrypt").
// Each call queues one fault; a fault is answered after the request is
// authenticated and before the operation runs, so it changes no state. The
// status is the one AWS uses for the code (500 or 503 for internal and
// unavailability errors, else 400), so the SDK retries 5xx and throttling
// faults as it would against AWS.
func (e *Emulator) FailNext(op, code string) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.queued[op] = append(e.faults.queued[op], code)
}

// RequestCount returns how many requests named op since New, refused ones
// included. op is an operation name, counted across both services, or a
// full X-Amz-Target value.
func (e *Emulator) RequestCount(op string) int {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	if strings.Contains(op, ".") {
		return e.faults.counts[op]
	}
	n := 0
	for target, c := range e.faults.counts {
		if target[strings.IndexByte(target, '.')+1:] == op {
			n += c
		}
	}
	return n
}

// count records one request for target.
func (t *faultTable) count(target string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[target]++
}

// take pops the fault queued for target or for its operation name op.
func (t *faultTable) take(target, op string) *apiError {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, key := range []string{target, op} {
		if q := t.queued[key]; len(q) > 0 {
			t.queued[key] = q[1:]
			return &apiError{status: faultStatus(q[0]), code: q[0], message: "awsemu: injected fault"}
		}
	}
	return nil
}
