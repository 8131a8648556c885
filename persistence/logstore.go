package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// raftStore is hashicorp/raft's LogStore and StableStore on the node's
// Pebble store, under the "r/" namespace. Log keys are "r/log/" + the
// big-endian index, so index order is key order and First/LastIndex are one
// seek each. Every write is one synced batch: StoreLogs of a whole batch
// of entries costs one fsync, shared with concurrent commits by Pebble's
// group commit.
type raftStore struct {
	s             *Store
	appendSeconds prometheus.Observer // nil: not measured
	ahead         *readAhead          // nil: every GetLog is a point read
}

// newRaftLogStore is the node's log store, reading ahead (readAhead).
func newRaftLogStore(s *Store, appendSeconds prometheus.Observer) raftStore {
	return raftStore{s: s, appendSeconds: appendSeconds, ahead: &readAhead{}}
}

var (
	_ raft.LogStore    = raftStore{}
	_ raft.StableStore = raftStore{}
)

// errStableNotFound is what raft expects from StableStore.Get for a
// missing key: it compares err.Error() with "not found".
var errStableNotFound = errors.New("not found")

// FirstIndex returns the first stored index, 0 when the log is empty.
func (r raftStore) FirstIndex() (uint64, error) { return r.edge(false) }

// LastIndex returns the last stored index, 0 when the log is empty.
func (r raftStore) LastIndex() (uint64, error) { return r.edge(true) }

func (r raftStore) edge(last bool) (uint64, error) {
	it, err := r.s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(tRaftLog), UpperBound: prefixEnd([]byte(tRaftLog))})
	if err != nil {
		return 0, fmt.Errorf("persistence: raft log: %w", err)
	}
	ok := it.First()
	if last {
		ok = it.Last()
	}
	var index uint64
	if ok {
		index = raftLogIndex(it.Key())
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("persistence: raft log: %w", err)
	}
	return index, nil
}

// GetLog reads entry index into l, or returns raft.ErrLogNotFound.
// Sequential reads (Raft scanning its log at start, applying the
// entries behind its commit index, replicating) are served by readAhead.
func (r raftStore) GetLog(index uint64, l *raft.Log) error {
	if r.ahead != nil {
		r.ahead.reads.Add(1)
		if ok, err := r.ahead.get(r.s.db, index, l); ok || err != nil {
			return err
		}
	}
	var rec dirpb.RaftLog
	found, err := getProto(r.s.db, raftLogKey(index), &rec)
	if err != nil {
		return err
	}
	if !found {
		return raft.ErrLogNotFound
	}
	*l = logFromRecord(index, &rec)
	return nil
}

func logFromRecord(index uint64, rec *dirpb.RaftLog) raft.Log {
	l := raft.Log{
		Index:      index,
		Term:       rec.Term,
		Type:       raft.LogType(rec.Type),
		Data:       rec.Data,
		Extensions: rec.Extensions,
	}
	if rec.AppendedAtUnixNano != 0 {
		l.AppendedAt = time.Unix(0, rec.AppendedAtUnixNano)
	}
	return l
}

// StoreLog stores one entry.
func (r raftStore) StoreLog(l *raft.Log) error { return r.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores entries in one synced batch.
func (r raftStore) StoreLogs(logs []*raft.Log) error {
	b := r.s.db.NewBatch()
	defer b.Close()
	var buf []byte
	for _, l := range logs {
		rec := dirpb.RaftLog{Term: l.Term, Type: uint32(l.Type), Data: l.Data, Extensions: l.Extensions}
		if !l.AppendedAt.IsZero() {
			rec.AppendedAtUnixNano = l.AppendedAt.UnixNano()
		}
		var err error
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], &rec)
		if err != nil {
			return fmt.Errorf("persistence: encode raft log %d: %w", l.Index, err)
		}
		if err := b.Set(raftLogKey(l.Index), buf, nil); err != nil {
			return fmt.Errorf("persistence: raft log %d: %w", l.Index, err)
		}
	}
	start := time.Now()
	err := r.s.commit(b)
	if r.appendSeconds != nil {
		r.appendSeconds.Observe(time.Since(start).Seconds())
	}
	if r.ahead != nil && len(logs) > 0 {
		r.ahead.overwritten(logs[0].Index)
	}
	return err
}

// DeleteRange deletes entries min..max inclusive with one range tombstone.
func (r raftStore) DeleteRange(min, max uint64) error {
	hi := prefixEnd([]byte(tRaftLog))
	if max < math.MaxUint64 {
		hi = raftLogKey(max + 1)
	}
	b := r.s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(raftLogKey(min), hi, nil); err != nil {
		return fmt.Errorf("persistence: raft log delete %d..%d: %w", min, max, err)
	}
	err := r.s.commit(b)
	if r.ahead != nil {
		r.ahead.overwritten(min)
	}
	return err
}

// Set stores a stable value (current term, last vote, ...).
func (r raftStore) Set(k, v []byte) error {
	b := r.s.db.NewBatch()
	defer b.Close()
	if err := b.Set(append([]byte(tRaftStable), k...), v, nil); err != nil {
		return fmt.Errorf("persistence: raft stable %q: %w", k, err)
	}
	return r.s.commit(b)
}

// Get returns a stable value, or an error reading "not found".
func (r raftStore) Get(k []byte) ([]byte, error) {
	v, closer, err := r.s.db.Get(append([]byte(tRaftStable), k...))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errStableNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("persistence: raft stable %q: %w", k, err)
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

// SetUint64 stores a stable uint64 (big endian).
func (r raftStore) SetUint64(k []byte, v uint64) error {
	return r.Set(k, binary.BigEndian.AppendUint64(nil, v))
}

// GetUint64 returns a stable uint64, 0 when absent.
func (r raftStore) GetUint64(k []byte) (uint64, error) {
	v, err := r.Get(k)
	if errors.Is(err, errStableNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("persistence: raft stable %q holds %d bytes, want 8", k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
