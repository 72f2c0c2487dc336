package migratekeys

import (
	"context"
	"errors"
	"testing"

	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/kes"
)

// TestWrittenBeforeWithKES: a resumed run decides whether a key KES holds
// is the one the interrupted attempt wrote by comparing it, so a different
// key that appeared meanwhile is not taken for ours.
func TestWrittenBeforeWithKES(t *testing.T) {
	srv := testenv.KES(t, testenv.KESOptions{})
	dst, err := kes.New(kes.Config{Name: "kms.dst", Endpoint: srv.Endpoint, APIKey: srv.APIKey, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ours, theirs := keystoretest.NewKey(t), keystoretest.NewKey(t)
	if err := dst.Create(ctx, "ours", ours); err != nil {
		t.Fatal(err)
	}
	if err := dst.Create(ctx, "theirs", theirs); err != nil {
		t.Fatal(err)
	}
	if written, err := writtenBefore(ctx, dst, "ours", ours); err != nil || !written {
		t.Errorf("writtenBefore(our key) = %v, %v; want true", written, err)
	}
	if written, err := writtenBefore(ctx, dst, "theirs", ours); err != nil || written {
		t.Errorf("writtenBefore(a different key) = %v, %v; want false", written, err)
	}
	if same, err := sameAtTarget(ctx, dst, "absent", ours); !errors.Is(err, providers.ErrKeyNotFound) || same {
		t.Errorf("sameAtTarget(absent) = %v, %v; want ErrKeyNotFound", same, err)
	}
}
