package persistence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Apply proposes cmd through Raft and waits until this node has applied
// it. It returns the entry's Raft index, a consistency token: a read on
// any node after WaitApplied(ctx, index) sees the command's effect.
//
// A rejected command (errors.Is ErrInvalid, ErrNotFound, ErrConflict, ErrLimit or
// ErrUnknownCommand) also returns its index; it changed nothing. On a
// follower Apply fails with ErrNotLeader naming the leader. The context
// bounds the wait; when it ends after the command was proposed, the
// outcome is unknown (the command may still be applied).
//
// A Batch is refused (ErrInvalid): ApplyGrouped makes batches and gives
// each command its own result.
func (n *Node) Apply(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
	start := time.Now()
	index, err := n.apply(ctx, cmd)
	n.m.applySeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		n.m.applyErrors.Inc()
	}
	return index, err
}

func (n *Node) apply(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
	if cmd.GetBatch() != nil {
		return 0, invalidf("a batch through Apply (use ApplyGrouped)")
	}
	data, err := marshal.Marshal(cmd)
	if err != nil {
		return 0, fmt.Errorf("persistence: encode command: %w", err)
	}
	return n.applyData(ctx, data)
}

// applyData proposes an encoded command: on the leader, or forwarded to
// it from a follower.
func (n *Node) applyData(ctx context.Context, data []byte) (uint64, error) {
	if f := n.getForwarder(); f != nil && n.raft.State() != raft.Leader {
		return n.applyForwarded(ctx, f, data)
	}
	index, err := n.applyEncoded(ctx, data)
	if f := n.getForwarder(); f != nil && errors.Is(err, ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
		// Refused before it was enqueued (leadership moved since the
		// check): nothing was proposed, so forwarding cannot apply it twice.
		return n.applyForwarded(ctx, f, data)
	}
	return index, err
}

// applyLocal proposes an encoded command on this node (the leader).
func (n *Node) applyLocal(ctx context.Context, data []byte) (uint64, error) {
	return n.applyEncoded(ctx, data)
}

func (n *Node) applyEncoded(ctx context.Context, data []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("persistence: apply: %w", err)
	}
	if _, ferr := n.store.Failed(); ferr != nil {
		return 0, ferr
	}
	f := n.raft.Apply(data, n.enqueueTimeout(ctx))
	if err := n.wait(ctx, f); err != nil {
		return 0, n.raftError(err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return f.Index(), err
	}
	return f.Index(), nil
}

func (n *Node) enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return n.cfg.ApplyTimeout
}

// wait waits for a Raft future, for ctx, or for Raft to stop.
//
// hashicorp/raft never answers a command that was queued in the instant
// Raft shut down; the stopped case keeps the caller from waiting for it
// (the helper goroutine then stays blocked until the process exits).
func (n *Node) wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, ctx.Err())
	case <-n.stopped:
		select {
		case err := <-done: // answered after all
			return err
		default:
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, raft.ErrRaftShutdown)
		}
	}
}

// raftError translates Raft's errors into this package's. A failed store
// explains every later error, so it comes first.
func (n *Node) raftError(err error) error {
	if _, ferr := n.store.Failed(); ferr != nil {
		return ferr
	}
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
		addr, id := n.raft.LeaderWithID()
		return fmt.Errorf("%w (leader %q at %q): %w", ErrNotLeader, id, addr, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("persistence: raft: %w", err)
}

// Applied returns the last Raft index applied to this node's directory.
func (n *Node) Applied() uint64 { return n.fsm.applied.Load() }

// WaitApplied blocks until this node has applied every entry up to index
// (from Apply on any node), so a following read sees them.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.waitApplied(ctx, index)
}

// Subscribe returns a channel of the changes applied from now on, and a
// cancel func that closes it. The FSM never waits for a subscriber: when
// buffer changes are queued unread, later ones are dropped and a Change
// with Reset set is queued instead, after which the subscriber must drop
// all its caches (see feed). The channel is closed by cancel or Close.
func (n *Node) Subscribe(buffer int) (<-chan Change, func()) { return n.fsm.feed.subscribe(buffer) }

// Store returns the node's store for reads.
func (n *Node) Store() *Store { return n.store }

// ID returns this node's Raft server id.
func (n *Node) ID() string { return n.nodeID }

// ClusterID returns the id of the cluster this node's data belongs to; ""
// while a fresh node started with NoBootstrap waits to be added to one
// (see AdoptClusterID).
func (n *Node) ClusterID() string {
	n.idMu.Lock()
	defer n.idMu.Unlock()
	return n.clusterID
}

// RaftAddr returns the address Raft listens on.
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// Leader returns the current leader's id and address ("" when unknown).
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Ready reports whether the store is writable, Raft has a leader and this
// node's directory has caught up with the committed log since Open (after
// a crash, the last batches are applied again first).
func (n *Node) Ready() bool {
	if _, err := n.store.Failed(); err != nil {
		return false
	}
	id, _ := n.Leader()
	return id != "" && n.caughtUp.Load() && n.raft.State() != raft.Shutdown
}

// WaitReady polls Ready until it holds or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("persistence: node %q not ready: %w", n.nodeID, ctx.Err())
		case <-n.done:
			return ErrClosed
		case <-tick.C:
		}
	}
	return nil
}

// Snapshot takes a Raft snapshot now and compacts the log behind it.
func (n *Node) Snapshot(ctx context.Context) error {
	err := n.wait(ctx, n.raft.Snapshot())
	if err == nil || errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return fmt.Errorf("persistence: snapshot: %w", err)
}

// Backup writes a consistent snapshot of the directory to w (the snapshot
// stream format, see snapshot.go) and returns the Raft index it holds.
func (n *Node) Backup(w io.Writer) (uint64, error) {
	var hdr *dirpb.SnapshotHeader
	err := n.store.withSnapshot(func(r pebble.Reader) error {
		var err error
		hdr, err = writeSnapshot(r, w)
		return err
	})
	if err != nil {
		return 0, err
	}
	return hdr.AppliedIndex, nil
}

// Restore replaces the directory of the whole cluster with a backup. It
// runs on the leader only and is meant for disaster recovery: commands in
// flight are aborted. The backup is checked completely before anything is
// replaced.
func (n *Node) Restore(ctx context.Context, r io.Reader) error {
	tmp, size, hdr, err := n.spoolBackup(r)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // best effort: a leftover temp file is harmless
	defer tmp.Close()           //nolint:errcheck // read-only use
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: hdr.AppliedIndex, Term: hdr.AppliedTerm, Size: size}
	if err := n.raft.Restore(meta, tmp, n.enqueueTimeout(ctx)); err != nil {
		return fmt.Errorf("persistence: restore: %w", n.raftError(err))
	}
	return nil
}

// spoolBackup copies r to a temp file in the data dir (Raft needs the
// size up front) and verifies it, leaving the file positioned at its start.
func (n *Node) spoolBackup(r io.Reader) (*os.File, int64, *dirpb.SnapshotHeader, error) {
	tmp, err := os.CreateTemp(n.cfg.Dir, "restore-*.tmp")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("persistence: restore: %w", err)
	}
	fail := func(err error) (*os.File, int64, *dirpb.SnapshotHeader, error) {
		_ = tmp.Close()           // the first error is the one to report
		_ = os.Remove(tmp.Name()) // best effort
		return nil, 0, nil, err
	}
	size, err := io.Copy(tmp, r)
	if err != nil {
		return fail(fmt.Errorf("persistence: restore: read backup: %w", err))
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("persistence: restore: %w", err))
	}
	hdr, err := verifySnapshot(tmp)
	if err != nil {
		return fail(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("persistence: restore: %w", err))
	}
	return tmp, size, hdr, nil
}

// Server is one member of the Raft configuration.
type Server struct {
	ID, Address string
	Voter       bool
}

// Servers returns the Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.raftError(err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// AddVoter adds (or re-addresses) a voting member. Leader only.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.membership(ctx, n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, n.enqueueTimeout(ctx)))
}

// AddNonvoter adds a member that replicates but does not vote. Leader only.
func (n *Node) AddNonvoter(ctx context.Context, id, addr string) error {
	return n.membership(ctx, n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, n.enqueueTimeout(ctx)))
}

// RemoveServer removes a member. Leader only.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.membership(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, n.enqueueTimeout(ctx)))
}

func (n *Node) membership(ctx context.Context, f raft.Future) error {
	if err := n.wait(ctx, f); err != nil {
		return n.raftError(err)
	}
	return nil
}
