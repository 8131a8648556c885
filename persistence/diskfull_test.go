package persistence

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// diskFull fails every write and sync under the store once switched on,
// as a full disk does.
type diskFull struct{ on atomic.Bool }

func (d *diskFull) String() string { return "disk-full" }

func (d *diskFull) MaybeError(op errorfs.Op) error {
	if d.on.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
		return fmt.Errorf("inject %s: %w", op.Path, syscall.ENOSPC)
	}
	return nil
}

func TestNode_DiskFullFailsApplyWithoutFalseAcks(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	full := &diskFull{}
	cfg.fs = errorfs.Wrap(vfs.Default, full)
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	acked := []string{}
	for _, id := range []string{"a", "b", "c"} {
		mustApply(t, n, putUser(id))
		acked = append(acked, id)
	}

	full.on.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = n.Apply(ctx, putUser("lost"))
	if err == nil {
		t.Fatal("Apply succeeded on a full disk")
	}
	t.Logf("Apply on a full disk: %v", err)
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
	waitFor(t, "node not ready", func() bool { return !n.Ready() })
	if _, err := n.Apply(ctx, putUser("later")); !errors.Is(err, ErrStoreFailed) {
		t.Errorf("Apply after the failure = %v, want ErrStoreFailed", err)
	}
	if err := n.Close(); err != nil {
		t.Logf("Close after the failure: %v", err)
	}

	// The disk has room again: everything acknowledged is there.
	full.on.Store(false)
	cfg.fs = nil
	n2 := openNode(t, cfg)
	for _, id := range acked {
		if _, err := n2.Store().User(id); err != nil {
			t.Errorf("acknowledged user %q lost: %v", id, err)
		}
	}
	mustApply(t, n2, putUser("after"))
}
