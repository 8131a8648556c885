package persistence

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// fsm applies committed Raft entries to the directory. It is persistent:
// each batch of entries is written with the index of its last entry in
// one Pebble batch, so after a restart the directory is already there and
// entries at or below that index, which Raft replays, are skipped. The
// batch is not fsynced: the entries are durable in the Raft log already,
// and the next synced write (Raft's next append) carries the batch to
// disk with it, as Pebble's WAL is one sequential log. A crash loses at
// most the last batches, which Raft applies again once it has a leader.
// Snapshot syncs first, so a snapshot never runs ahead of the disk.
// Raft calls ApplyBatch, Snapshot and Restore from one goroutine.
type fsm struct {
	s    *Store
	feed *feed
	log  *slog.Logger
	m    *fsmMetrics

	applied atomic.Uint64
	// recent are the results of the last Batch entries (see recentBatches).
	recentMu sync.Mutex
	recent   recentBatches
	mu       sync.Mutex
	advance  chan struct{} // closed and replaced whenever applied grows; guarded by mu
	closed   chan struct{}
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(s *Store, log *slog.Logger, m *fsmMetrics) (*fsm, error) {
	a, err := s.applied()
	if err != nil {
		return nil, err
	}
	f := &fsm{s: s, feed: newFeed(), log: log, m: m, advance: make(chan struct{}), closed: make(chan struct{})}
	f.applied.Store(a.Index)
	return f, nil
}

// Apply applies one entry.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies entries in one Pebble batch. Each response is nil, a
// *CommandError (rejected, nothing changed), batchResults for a Batch
// entry or, when the batch could not be written, the store failure for
// every entry.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	start := time.Now()
	resp := make([]any, len(logs))
	if _, err := f.s.Failed(); err != nil {
		return fill(resp, err)
	}
	t := newTxn(f.s.db)
	defer func() { _ = t.b.Close() }() // t.b may be replaced by a rollback; the commit's error is the one reported
	last, err := f.applyAll(t, logs, resp)
	if err != nil || last == nil {
		return resp
	}
	if err := t.put(keyApplied, &dirpb.Applied{Index: last.Index, Term: last.Term}); err != nil {
		return fill(resp, f.s.fail(err))
	}
	if err := f.s.commitNoSync(t.b); err != nil {
		return fill(resp, err)
	}
	f.setApplied(last.Index)
	f.s.gens.changed(t.changes, false)
	f.feed.publish(t.changes)
	f.m.observeBatch(len(logs), time.Since(start))
	return resp
}

// applyAll applies the entries not yet in the store, filling resp, and
// returns the last entry applied. A storage error fails the store: the
// batch may hold half a command and must not be committed.
func (f *fsm) applyAll(t *txn, logs []*raft.Log, resp []any) (*raft.Log, error) {
	var last *raft.Log
	for i, l := range logs {
		if l.Index <= f.applied.Load() {
			continue // replayed after a restart: already in the store
		}
		last = l
		if l.Type != raft.LogCommand {
			continue
		}
		r, err := f.applyOne(t, l)
		if err != nil {
			fill(resp, f.s.fail(fmt.Errorf("apply index %d: %w", l.Index, err)))
			return nil, err
		}
		resp[i] = r
	}
	return last, nil
}

// applyOne applies one command entry and returns its response: nil, the
// *CommandError of a rejected command, or the batchResults of a Batch.
// The error is a storage failure: the Pebble batch may hold half a
// command and must not be committed.
func (f *fsm) applyOne(t *txn, l *raft.Log) (any, error) {
	var cmd dirpb.Command
	if err := proto.Unmarshal(l.Data, &cmd); err != nil {
		f.m.rejected.Inc()
		return rejectf(CodeUnknownCommand, "index %d: undecodable command: %v", l.Index, err), nil
	}
	if b := cmd.GetBatch(); b != nil {
		res, err := t.applyBatch(l.Index, b)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if r != nil {
				f.m.rejected.Inc()
			}
		}
		f.remember(l.Index, res)
		return batchResults(res), nil
	}
	rejected, err := t.applyChecked(l.Index, &cmd)
	if err != nil {
		return nil, err
	}
	if rejected != nil {
		f.m.rejected.Inc()
		return rejected, nil
	}
	return nil, nil
}

// remember keeps a Batch entry's results for the proposers on this node.
// A batch that fails to commit later is never looked up: its proposers
// get the store failure.
func (f *fsm) remember(index uint64, res batchResults) {
	f.recentMu.Lock()
	defer f.recentMu.Unlock()
	f.recent.put(index, res)
}

// batchResults returns the results of the Batch entry at index, applied
// on this node; false when they are no longer kept.
func (f *fsm) batchResults(index uint64) (batchResults, bool) {
	f.recentMu.Lock()
	defer f.recentMu.Unlock()
	return f.recent.get(index)
}

func fill(resp []any, err error) []any {
	for i := range resp {
		resp[i] = err
	}
	return resp
}

func (f *fsm) setApplied(index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied.Store(index)
	close(f.advance)
	f.advance = make(chan struct{})
}

// waitApplied blocks until the directory holds every entry up to index.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		ch, cur := f.advance, f.applied.Load()
		f.mu.Unlock()
		if cur >= index {
			return nil
		}
		select {
		case <-ch:
		case <-f.closed:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("persistence: wait for index %d (applied %d): %w", index, cur, ctx.Err())
		}
	}
}

// Snapshot pins a Pebble snapshot of the directory; Persist streams it
// while Apply goes on. It syncs first: Raft compacts its log behind the
// snapshot, so the directory must be on disk up to the snapshot's index.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.s.sync(); err != nil {
		return nil, err
	}
	return &fsmSnapshot{snap: f.s.db.NewSnapshot(), log: f.log}, nil
}

// Restore replaces the whole directory with a snapshot stream in one
// synced batch: a crash leaves either the old or the new directory.
// Subscribers get a Reset.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close() //nolint:errcheck // raft's snapshot readers report errors on Read
	b := f.s.db.NewBatch()
	defer b.Close()
	hdr, err := readSnapshot(rc, b)
	if err != nil {
		return err
	}
	index := max(hdr.AppliedIndex, f.applied.Load())
	if err := putProto(b, keyApplied, &dirpb.Applied{Index: index, Term: hdr.AppliedTerm}); err != nil {
		return err
	}
	if err := f.s.commit(b); err != nil {
		return err
	}
	f.setApplied(index)
	f.s.gens.changed(nil, true)
	f.feed.reset(index)
	f.log.Info("persistence: directory restored from snapshot", "applied_index", hdr.AppliedIndex)
	return nil
}

func (f *fsm) close() {
	close(f.closed)
	f.feed.close()
}

type fsmSnapshot struct {
	snap *pebble.Snapshot
	log  *slog.Logger
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := writeSnapshot(s.snap, sink); err != nil {
		if cerr := sink.Cancel(); cerr != nil {
			s.log.Warn("persistence: cancel snapshot", "err", cerr)
		}
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {
	if err := s.snap.Close(); err != nil {
		s.log.Warn("persistence: release snapshot", "err", err)
	}
}
