package persistence

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Forwarder carries a command from a follower to the Raft leader, which
// applies it with ApplyForwarded. It is the seam between this package and
// the node-to-node transport (node uses an authenticated internal
// HTTP route). Implementations must be safe for concurrent use.
//
// Forward returns the entry's index and, for a rejected command, the
// *CommandError the leader's FSM gave (with the index: the rejection is in
// the log too). An error wrapping ErrNotLeader or ErrNoLeader means the
// command was certainly not proposed (the addressee is not the leader, or
// could not be reached before anything was sent): Apply tries again. Any
// other error leaves the outcome unknown.
type Forwarder interface {
	Forward(ctx context.Context, leaderID string, cmd []byte) (uint64, error)
}

// SetForwarder makes Apply on a follower forward commands to the leader
// through f. Nil turns forwarding off (Apply on a follower then fails with
// ErrNotLeader).
func (n *Node) SetForwarder(f Forwarder) {
	if f == nil {
		n.forwarder.Store(nil)
		return
	}
	n.forwarder.Store(&f)
}

func (n *Node) getForwarder() Forwarder {
	if p := n.forwarder.Load(); p != nil {
		return *p
	}
	return nil
}

// forwardRetryDelay is the pause between forwarding attempts while a
// leader is being elected or cannot be reached.
const forwardRetryDelay = 50 * time.Millisecond

// applyForwarded sends data to the leader and waits until this node has
// applied the entry, so a read here right after sees the write.
// Attempts that certainly proposed nothing (no leader yet, the addressee
// lost leadership, unreachable) are repeated until ForwardTimeout.
func (n *Node) applyForwarded(ctx context.Context, f Forwarder, data []byte) (uint64, error) {
	start := time.Now()
	if n.cutOff() {
		age, _ := n.Staleness()
		return 0, fmt.Errorf("%w: no leader heard from for %v", ErrNoLeader, age.Round(100*time.Millisecond))
	}
	budget, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			n.m.forwardRetries.Inc()
			select {
			case <-budget.Done():
				return 0, n.noLeader(ctx, last)
			case <-n.done:
				return 0, ErrClosed
			case <-time.After(forwardRetryDelay):
			}
		}
		if n.raft.State() == raft.Leader {
			return n.applyLocal(ctx, data) // elected meanwhile
		}
		leader, _ := n.Leader()
		if leader == "" {
			last = fmt.Errorf("%w: no leader elected", ErrNoLeader)
			continue
		}
		if age, stale := n.Staleness(); stale {
			// Not heard from the leader for a heartbeat timeout: a write
			// sent now would likely be lost on the way, leaving its outcome
			// unknown. Wait for the leader to show up (or a new one).
			last = fmt.Errorf("%w: leader %q not heard from for %v", ErrNoLeader, leader, age.Round(100*time.Millisecond))
			continue
		}
		index, err := f.Forward(budget, leader, data)
		if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) {
			last = err
			continue
		}
		n.m.forwardSeconds.Observe(time.Since(start).Seconds())
		var ce *CommandError
		if err != nil && !errors.As(err, &ce) {
			return 0, err
		}
		if werr := n.WaitApplied(ctx, index); werr != nil {
			return index, fmt.Errorf("persistence: forwarded write %d applied by the leader, not yet here: %w", index, werr)
		}
		return index, err
	}
}

// noLeader explains why forwarding gave up: the caller's context, or no
// reachable leader within ForwardTimeout (this node is probably cut off
// from the majority).
func (n *Node) noLeader(ctx context.Context, last error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("persistence: no leader took the write before the deadline: %w (last attempt: %v)", err, last)
	}
	cause := "no leader elected"
	if last != nil {
		cause = strings.TrimPrefix(last.Error(), ErrNoLeader.Error()+": ")
	}
	return fmt.Errorf("%w for %v (%s)", ErrNoLeader, n.cfg.ForwardTimeout, cause)
}

// ApplyForwarded applies a command another node forwarded (its encoded
// form, as Forwarder.Forward got it). It never forwards again: on a node
// that is not the leader it fails with ErrNotLeader, and the sender tries
// the leader it knows of next.
func (n *Node) ApplyForwarded(ctx context.Context, data []byte) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, n.notLeader()
	}
	start := time.Now()
	index, err := n.applyEncoded(ctx, data)
	n.m.applySeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		n.m.applyErrors.Inc()
	}
	return index, err
}

func (n *Node) notLeader() error {
	addr, id := n.raft.LeaderWithID()
	return fmt.Errorf("%w (leader %q at %q)", ErrNotLeader, id, addr)
}

type forwardMetrics struct {
	forwardSeconds prometheus.Histogram
	forwardRetries prometheus.Counter
}

func newForwardMetrics() forwardMetrics {
	return forwardMetrics{
		forwardSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ucgrid_persistence_forward_seconds",
			Help:    "Apply on a follower: forwarding to the leader until the leader answered (the local wait for the index excluded).",
			Buckets: latencyBuckets,
		}),
		forwardRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ucgrid_persistence_forward_retries_total",
			Help: "Forwarding attempts repeated because there was no leader, it moved, or it was unreachable.",
		}),
	}
}
