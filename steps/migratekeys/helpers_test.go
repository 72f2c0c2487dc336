package migratekeys_test

import (
	"context"
	"fmt"
	"iter"

	"github.com/cutover/cutover/providers"
)

// nameSeq lists generated names; only List is used (to drive keyops.ForEach
// when filling a store).
type nameSeq int

func (n nameSeq) Name() string                         { return "names" }
func (n nameSeq) Status(context.Context) error         { return nil }
func (n nameSeq) Delete(context.Context, string) error { return providers.ErrUnsupported }
func (n nameSeq) Get(context.Context, string) (providers.Key, error) {
	return providers.Key{}, providers.ErrUnsupported
}
func (n nameSeq) Create(context.Context, string, providers.Key) error {
	return providers.ErrUnsupported
}
func (n nameSeq) List(ctx context.Context, _ string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for i := 0; i < int(n); i++ {
			if !yield(fmt.Sprintf("k-%04d", i), nil) {
				return
			}
		}
	}
}
