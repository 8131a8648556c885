// Package testdir opens a durable directory for a test: a one-node Raft
// cluster on a temporary data directory, with short Raft timeouts, ready
// for writes when Open returns and closed when the test ends.
package testdir

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
)

// Open opens cfg's directory (a fresh temporary one when cfg.Dir is "")
// as a one-node cluster with the zero Raft timeouts shortened and logs
// discarded unless cfg.Logger is set, waits until it leads, and closes it
// at the end of the test unless the test closed it first.
func Open(t testing.TB, cfg persistence.Config) *persistence.Node {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.HeartbeatTimeout, 50 * time.Millisecond}, {&cfg.ElectionTimeout, 50 * time.Millisecond},
		{&cfg.LeaderLeaseTimeout, 50 * time.Millisecond}, {&cfg.CommitTimeout, 5 * time.Millisecond}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	n, err := persistence.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("persistence.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil && !errors.Is(err, persistence.ErrClosed) {
			t.Errorf("close the directory: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("directory not ready: %v", err)
	}
	return n
}
