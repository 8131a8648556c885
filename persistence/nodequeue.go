package persistence

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The node-local queues hold what this node could not commit through Raft
// (no leader reachable: the node is cut off from the majority), to be
// committed once a leader is reachable. They are outside nsDir, so neither
// snapshots nor restores nor other nodes see them, and they survive a
// restart of the node. Key: table, queued(8, unix nanos), seq(8); the
// order of the keys is the order of commit.
const (
	// tJournalQueue: JournalEntry, each with its id, so a later commit
	// cannot store it twice.
	tJournalQueue = "q/jq/"
	// tRegistrationQueue: UpdateRegistrations the node answered a
	// REGISTER with (actors keep them in memory too).
	tRegistrationQueue = "q/rq/"
)

// QueuedJournal is one entry of the node's journal queue.
type QueuedJournal struct {
	// Key locates the entry in the queue (DequeueJournal).
	Key []byte
	// Queued is when the entry entered the queue.
	Queued time.Time
	Entry  *dirpb.JournalEntry
}

// QueuedRegistrations is one update of the node's registration queue.
type QueuedRegistrations struct {
	// Key locates the update in the queue (DequeueRegistrations).
	Key    []byte
	Update *dirpb.UpdateRegistrations
}

// queueSeq numbers the queues' keys: two items queued in the same
// nanosecond keep their order.
type queueSeq struct {
	mu  sync.Mutex
	seq uint64 // guarded by mu; the last sequence number given
}

func (q *queueSeq) next() uint64 {
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
	msgs := make([]proto.Message, len(entries))
	for i, e := range entries {
		if e.GetId() == "" {
			return invalidf("a queued journal entry without an id")
		}
		msgs[i] = e
	}
	_, err := s.enqueue(tJournalQueue, msgs, now)
	return err
}

// QueuedJournalEntries returns up to limit entries of the node's journal
// queue, oldest first.
func (s *Store) QueuedJournalEntries(limit int) ([]QueuedJournal, error) {
	var out []QueuedJournal
	err := s.scanQueue(tJournalQueue, func(k, v []byte) (bool, error) {
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
	err = s.scanQueue(tJournalQueue, func(k, _ []byte) (bool, error) {
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
func (s *Store) DequeueJournal(keys [][]byte) error { return s.dequeue(keys) }

// QueueRegistrations stores u durably (fsync) in the node's registration
// queue and returns its key (DequeueRegistrations).
func (s *Store) QueueRegistrations(u *dirpb.UpdateRegistrations, now time.Time) ([]byte, error) {
	if u.GetLine() == "" {
		return nil, invalidf("a queued registration update without a line")
	}
	keys, err := s.enqueue(tRegistrationQueue, []proto.Message{u}, now)
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

// QueuedRegistrationUpdates returns the node's registration queue, oldest
// first.
func (s *Store) QueuedRegistrationUpdates() ([]QueuedRegistrations, error) {
	var out []QueuedRegistrations
	err := s.scanQueue(tRegistrationQueue, func(k, v []byte) (bool, error) {
		u, err := decode(k, v, &dirpb.UpdateRegistrations{})
		if err != nil {
			return false, err
		}
		out = append(out, QueuedRegistrations{Key: append([]byte(nil), k...), Update: u})
		return true, nil
	})
	return out, err
}

// DequeueRegistrations removes updates from the node's registration queue
// (written through Raft, or refused for good).
func (s *Store) DequeueRegistrations(keys [][]byte) error { return s.dequeue(keys) }

// enqueue stores msgs under table in one synced batch and returns their
// keys.
func (s *Store) enqueue(table string, msgs []proto.Message, now time.Time) ([][]byte, error) {
	b := s.db.NewBatch()
	defer b.Close()
	keys := make([][]byte, len(msgs))
	for i, m := range msgs {
		k := make([]byte, 0, len(table)+16)
		k = append(k, table...)
		k = binary.BigEndian.AppendUint64(k, uint64(now.UnixNano()))
		k = binary.BigEndian.AppendUint64(k, s.qseq.next())
		if err := putProto(b, k, m); err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, s.commit(b)
}

// dequeue deletes keys of a node-local queue.
func (s *Store) dequeue(keys [][]byte) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("persistence: node queue: %w", err)
		}
	}
	return s.commit(b)
}

// scanQueue calls f on the keys of table in order while it returns true.
func (s *Store) scanQueue(table string, f func(k, v []byte) (bool, error)) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	lo := []byte(table)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return fmt.Errorf("persistence: node queue %s: %w", table, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		more, ferr := f(it.Key(), it.Value())
		if ferr != nil || !more {
			err = ferr
			break
		}
	}
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("persistence: node queue %s: %w", table, cerr)
	}
	return err
}

// queuedAt is when the item of a queue key was queued (every queue's
// table name is 5 bytes long).
func queuedAt(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[len(tJournalQueue):])))
}
