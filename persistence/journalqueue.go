package persistence

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// tJournalQueue holds the journal entries this node made but could not
// commit through Raft (no leader reachable: the node is cut off from the
// majority). It is node-local: outside nsDir, so neither snapshots nor
// restores nor other nodes see it. Key: queued(8, unix nanos) seq(8) →
// JournalEntry; the order of the keys is the order of commit.
const tJournalQueue = "q/jq/"

// QueuedJournal is one entry of the node's journal queue.
type QueuedJournal struct {
	// Key locates the entry in the queue (DequeueJournal).
	Key []byte
	// Queued is when the entry entered the queue.
	Queued time.Time
	Entry  *dirpb.JournalEntry
}

// journalQueue numbers the queue's keys: two entries queued in the same
// nanosecond keep their order.
type journalQueue struct {
	mu  sync.Mutex
	seq uint64 // guarded by mu; the last sequence number given
}

func (q *journalQueue) next() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	return q.seq
}

// QueueJournal stores entries durably (fsync) in the node's journal queue,
// to be committed later through Raft (QueuedJournalEntries, then
// DequeueJournal once written). Every entry needs its id, so a later
// commit cannot store it twice.
func (s *Store) QueueJournal(entries []*dirpb.JournalEntry, now time.Time) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		if e.GetId() == "" {
			return invalidf("a queued journal entry without an id")
		}
		k := make([]byte, 0, len(tJournalQueue)+16)
		k = append(k, tJournalQueue...)
		k = binary.BigEndian.AppendUint64(k, uint64(now.UnixNano()))
		k = binary.BigEndian.AppendUint64(k, s.jqueue.next())
		if err := putProto(b, k, e); err != nil {
			return err
		}
	}
	return s.commit(b)
}

// QueuedJournalEntries returns up to limit entries of the node's journal
// queue, oldest first.
func (s *Store) QueuedJournalEntries(limit int) ([]QueuedJournal, error) {
	var out []QueuedJournal
	err := s.scanQueue(func(k, v []byte) (bool, error) {
		e, err := decode(k, v, &dirpb.JournalEntry{})
		if err != nil {
			return false, err
		}
		out = append(out, QueuedJournal{Key: append([]byte(nil), k...), Queued: queuedAt(k), Entry: e})
		return len(out) < limit, nil
	})
	return out, err
}

// JournalQueueStats returns how many entries wait in the node's journal
// queue and when the oldest was queued (zero when none wait).
func (s *Store) JournalQueueStats() (n int, oldest time.Time, err error) {
	err = s.scanQueue(func(k, _ []byte) (bool, error) {
		if n == 0 {
			oldest = queuedAt(k)
		}
		n++
		return true, nil
	})
	return n, oldest, err
}

// DequeueJournal removes entries from the node's journal queue (committed
// through Raft, or refused for good).
func (s *Store) DequeueJournal(keys [][]byte) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("persistence: journal queue: %w", err)
		}
	}
	return s.commit(b)
}

// scanQueue calls f on the queue's keys in order while it returns true.
func (s *Store) scanQueue(f func(k, v []byte) (bool, error)) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	lo := []byte(tJournalQueue)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return fmt.Errorf("persistence: journal queue: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		more, ferr := f(it.Key(), it.Value())
		if ferr != nil || !more {
			err = ferr
			break
		}
	}
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("persistence: journal queue: %w", cerr)
	}
	return err
}

func queuedAt(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[len(tJournalQueue):])))
}
