package validateobjects

import "math/rand/v2"

// Fixed seed of the sample: the same listing always gives the same sample,
// so a rehearsal and the real run, or a run and its phase-2 redo, read the
// same objects.
const seed1, seed2 = 0x637574_6f766572, 0x76616c_69646174

// reservoir keeps a uniform sample of at most k of the objects offered
// (algorithm R): it never holds more than k, however many are offered.
type reservoir struct {
	k     int
	seen  int64
	items []object
	rng   *rand.Rand
	// peak is the most objects held at once, for tests of the bound.
	peak int
}

// preallocMax bounds the capacity reserved up front for a large sample.
const preallocMax = 1 << 16

func newReservoir(k int) *reservoir {
	return &reservoir{k: k, items: make([]object, 0, min(k, preallocMax)), rng: rand.New(rand.NewPCG(seed1, seed2))}
}

// offer considers o for the sample; it never fails (the signature fits the
// listing's callback).
func (r *reservoir) offer(o object) error {
	r.seen++
	if len(r.items) < r.k {
		r.items = append(r.items, o)
		r.peak = max(r.peak, len(r.items))
		return nil
	}
	if j := r.rng.Int64N(r.seen); j < int64(r.k) {
		r.items[j] = o
	}
	return nil
}
