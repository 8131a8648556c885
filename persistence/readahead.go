package persistence

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// readAheadEntries is how many entries one read-ahead decodes: a
// replication message's worth (MaxAppendEntries' default is 512).
const readAheadEntries = 256

// readAhead serves sequential GetLog calls from one iterator pass instead
// of one point read each: at start Raft reads every entry behind its last
// snapshot twice (for configuration changes, then to apply them), and a
// point read costs a fresh sstable iterator per entry (~10× a step of an
// open iterator). A GetLog for the entry after the previous one fills
// the buffer with the next readAheadEntries entries; any other misses.
//
// Writes never go through it: StoreLogs and DeleteRange call
// overwritten, which drops a buffer that may hold an entry they replace
// (a follower's log truncated by a new leader). Appends past the buffer
// leave it alone. A fill that races with such a write is discarded: gen
// is read before the iterator opens and compared when the buffer is
// used. Safe for concurrent use.
type readAhead struct {
	gen     atomic.Uint64 // bumped by every overwrite, after its commit
	highest atomic.Uint64 // highest index a buffer may ever have held

	mu   sync.Mutex
	next uint64     // the index a sequential reader asks for next
	gen0 uint64     // gen when buf was filled
	from uint64     // index of buf[0]
	buf  []raft.Log // entries from..from+len-1
	// fills counts buffer fills (tests check that sequential reads use it).
	fills int
	// reads counts the entries read from the store, buffered or not
	// (tests check how much of the log a start reads).
	reads atomic.Uint64
}

// get serves index from the buffer, filling it when the read is
// sequential. ok=false: not served, the caller reads the entry itself.
func (a *readAhead) get(db pebble.Reader, index uint64, l *raft.Log) (ok bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sequential := index == a.next && index != 0
	a.next = index + 1
	if a.has(index) {
		*l = a.buf[index-a.from]
		return true, nil
	}
	if !sequential {
		return false, nil
	}
	if err := a.fill(db, index); err != nil {
		return false, err
	}
	if !a.has(index) {
		return false, nil // not in the log (or overwritten meanwhile): the point read says which
	}
	*l = a.buf[index-a.from]
	return true, nil
}

func (a *readAhead) has(index uint64) bool {
	return a.gen0 == a.gen.Load() && index >= a.from && index < a.from+uint64(len(a.buf))
}

// fill reads up to readAheadEntries consecutive entries from index.
func (a *readAhead) fill(db pebble.Reader, index uint64) error {
	// Raise highest before reading gen: an overwrite that commits while
	// the iterator reads then sees it and bumps gen (which drops this
	// buffer); one that checked highest before already committed, and
	// the iterator sees its entries.
	a.raiseHighest(index + readAheadEntries - 1)
	gen := a.gen.Load()
	a.buf, a.from, a.gen0 = a.buf[:0], index, gen
	a.fills++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: raftLogKey(index), UpperBound: raftLogKey(index + readAheadEntries)})
	if err != nil {
		return fmt.Errorf("persistence: raft log read-ahead at %d: %w", index, err)
	}
	want := index
	for ok := it.First(); ok && raftLogIndex(it.Key()) == want; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close() // the read error is the one to report
			return fmt.Errorf("persistence: raft log read-ahead at %d: %w", want, err)
		}
		var rec dirpb.RaftLog
		if err := proto.Unmarshal(v, &rec); err != nil {
			_ = it.Close() // the decode error is the one to report
			return fmt.Errorf("persistence: decode raft log %d: %w", want, err)
		}
		a.buf = append(a.buf, logFromRecord(want, &rec))
		want++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("persistence: raft log read-ahead at %d: %w", index, err)
	}
	return nil
}

func (a *readAhead) raiseHighest(index uint64) {
	for {
		h := a.highest.Load()
		if index <= h || a.highest.CompareAndSwap(h, index) {
			return
		}
	}
}

// overwritten is called after a write that replaced entries from index
// on (or appended them): a buffer that may hold one of them is dropped.
func (a *readAhead) overwritten(index uint64) {
	if index <= a.highest.Load() {
		a.gen.Add(1)
	}
}
