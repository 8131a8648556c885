package persistence

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// SchemaVersion is the layout of keys and values this build reads and
// writes (docs/keyspace.md). A store written by a newer build refuses to
// open rather than be misread.
const SchemaVersion = 1

// Store is the Pebble database of one node: directory, journal, Raft log
// and stable store. Its exported methods are the typed read API; writes
// happen only through the FSM (directory) and the Raft log store, but for
// the node-local queues (QueueJournal, DequeueJournal, QueueRegistrations,
// DequeueRegistrations).
//
// Store is safe for concurrent use. Reads see the last committed FSM batch.
// Like a Pebble DB, a Store must not be read after its node is closed.
type Store struct {
	db  *pebble.DB
	dir string
	log *slog.Logger

	gens   generations
	trunks trunkCache
	plans  planCache // the compiled dial plan (callout.go)
	qseq   queueSeq  // numbers the node-local queues (nodequeue.go)
	// now is Config.Now: the typed reads leave out what ended before it
	// (expiry.go). Set before the store is shared, read-only after.
	now func() time.Time

	// life orders commits (shared) with Close (exclusive): Pebble panics on
	// a write to a closed DB. Commits run concurrently so that Pebble
	// group-commits their fsyncs (the FSM's batch with Raft's next append).
	life   sync.RWMutex
	closed bool // guarded by life

	// Pebble treats a failed WAL write as fatal (Options.Logger.Fatalf,
	// and a panic on the next write). The first failed commit marks the
	// store failed and no later commit reaches Pebble. Raft's writes are
	// synced, so a failure is reported before anything is acknowledged.
	failMu  sync.Mutex
	failErr error         // guarded by failMu; written before failed is closed
	failed  chan struct{} // closed when failErr is set
}

// Memory of a node's store.
const (
	memTableSize = 32 << 20
	// blockCacheSize is what the block cache keeps of the files: the
	// hot part of a large directory (1 M grants take ~60 MiB on disk).
	// It is filled as blocks are read, so a small store stays small.
	blockCacheSize = 128 << 20
)

// storeOptions are the Pebble settings of a node's store.
func storeOptions(fs vfs.FS, log *slog.Logger) *pebble.Options {
	opts := &pebble.Options{
		FS:                 fs,
		Logger:             pebbleLogger{log},
		FormatMajorVersion: pebble.FormatNewest,
		// A directory fits in memory many times over; a larger memtable
		// means fewer flushes under a burst of registrations.
		MemTableSize: memTableSize,
		// Pebble reserves the memtables (the mutable one and one being
		// flushed) out of the block cache: without adding them, a cache
		// of 2×MemTableSize holds no block at all and every read goes to
		// the file (it did until issue 16: 0 hits in 666 k reads).
		CacheSize: blockCacheSize + 2*memTableSize,
	}
	opts.EventListener = &pebble.EventListener{
		BackgroundError: func(err error) { log.Error("pebble background error", "err", err) },
	}
	return opts
}

// openStore opens (creating when fresh is true) the Pebble store in dir
// and checks its schema version.
func openStore(dir string, fs vfs.FS, log *slog.Logger, fresh bool) (*Store, error) {
	opts := storeOptions(fs, log)
	opts.ErrorIfNotExists = !fresh
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, openError(dir, err)
	}
	s := &Store{db: db, dir: dir, log: log, now: time.Now, failed: make(chan struct{})}
	if err := s.checkSchema(); err != nil {
		_ = db.Close() // the schema error is the one worth reporting
		return nil, err
	}
	return s, nil
}

func openError(dir string, err error) error {
	if pebble.IsCorruptionError(err) {
		return fmt.Errorf("persistence: data dir %q is corrupt: %w", dir, err)
	}
	return fmt.Errorf("persistence: open data dir %q: %w", dir, err)
}

// checkSchema writes the schema record into an empty store and otherwise
// insists on a version this build understands.
func (s *Store) checkSchema() error {
	var meta dirpb.StoreMeta
	found, err := getProto(s.db, keySchema, &meta)
	if err != nil {
		return fmt.Errorf("persistence: data dir %q: read schema version: %w", s.dir, err)
	}
	if !found {
		return s.initSchema()
	}
	switch {
	case meta.SchemaVersion > SchemaVersion:
		return fmt.Errorf("persistence: data dir %q has schema version %d, newer than the %d this build supports: %w",
			s.dir, meta.SchemaVersion, SchemaVersion, ErrInvalid)
	case meta.SchemaVersion < 1:
		return fmt.Errorf("persistence: data dir %q has invalid schema version %d: %w", s.dir, meta.SchemaVersion, ErrInvalid)
	}
	return nil
}

// initSchema stamps an empty store. A store that has keys but no schema
// record was not written by ucgrid.
func (s *Store) initSchema() error {
	empty, err := s.isEmpty()
	if err != nil {
		return err
	}
	if !empty {
		return fmt.Errorf("persistence: data dir %q holds a database without a ucgrid schema record: %w", s.dir, ErrInvalid)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := putProto(b, keySchema, &dirpb.StoreMeta{SchemaVersion: SchemaVersion}); err != nil {
		return err
	}
	return s.commit(b)
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, fmt.Errorf("persistence: data dir %q: %w", s.dir, err)
	}
	empty := !it.First()
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("persistence: data dir %q: %w", s.dir, err)
	}
	return empty, nil
}

// commit writes b durably (fsync) or fails the store. See Store.failErr.
func (s *Store) commit(b *pebble.Batch) error { return s.commitOpts(b, pebble.Sync) }

// commitNoSync writes b without waiting for the fsync: the FSM's batches,
// which Raft can replay from its log, and which the next synced commit
// (Raft's next append) makes durable, since Pebble's WAL is sequential.
func (s *Store) commitNoSync(b *pebble.Batch) error { return s.commitOpts(b, pebble.NoSync) }

func (s *Store) commitOpts(b *pebble.Batch, opts *pebble.WriteOptions) (err error) {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if _, ferr := s.Failed(); ferr != nil {
		return ferr
	}
	defer func() {
		// Turn Pebble's fatal error (our Logger.Fatalf panics) into the
		// failed state rather than kill the process mid-Raft-step.
		if r := recover(); r != nil {
			cause, ok := r.(error)
			if !ok {
				cause = fmt.Errorf("pebble panic: %v", r)
			}
			err = s.fail(cause)
		}
	}()
	if err := b.Commit(opts); err != nil {
		return s.fail(err)
	}
	return nil
}

// sync makes every earlier write durable.
func (s *Store) sync() error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.LogData(nil, nil); err != nil {
		return fmt.Errorf("persistence: sync: %w", err)
	}
	return s.commit(b)
}

// fail puts the store in the failed state and returns the (first) failure.
func (s *Store) fail(cause error) error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failErr != nil {
		return s.failErr
	}
	s.failErr = fmt.Errorf("%w: data dir %q: write failed, restart once the disk is fixed: %w", ErrStoreFailed, s.dir, cause)
	s.log.Error("persistence: store failed; refusing further writes", "dir", s.dir, "err", cause)
	close(s.failed)
	return s.failErr
}

// Failed returns a channel closed when a write has failed, and the error.
// It does not wait for a commit in progress.
func (s *Store) Failed() (<-chan struct{}, error) {
	select {
	case <-s.failed:
		return s.failed, s.failErr // written before failed was closed
	default:
		return s.failed, nil
	}
}

// Close closes the database. Safe to call more than once. After a write
// failure Pebble's commit pipeline may be wedged; Close then gives up
// after closeWait and leaves the rest to the process exit.
func (s *Store) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if _, ferr := s.Failed(); ferr == nil {
		// The memtables go to files now rather than be replayed from the
		// WAL by the next start (up to 2×MemTableSize of it).
		return closeError(s.dir, errors.Join(s.flush(), s.db.Close()))
	}
	done := make(chan error, 1)
	go func() { done <- s.db.Close() }()
	select {
	case err := <-done:
		return closeError(s.dir, err)
	case <-time.After(closeWait):
		return fmt.Errorf("persistence: close data dir %q: pebble did not close after a write failure", s.dir)
	}
}

// flush writes the memtables to files. Pebble's fatal errors (a WAL it
// cannot rotate) panic through our logger: they come back as the error.
func (s *Store) flush() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("persistence: flush before close: %v", r)
		}
	}()
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("persistence: flush before close: %w", err)
	}
	return nil
}

// closeWait bounds Close of a failed store.
const closeWait = 5 * time.Second

func closeError(dir string, err error) error {
	if err != nil {
		return fmt.Errorf("persistence: close data dir %q: %w", dir, err)
	}
	return nil
}

// pebbleMetrics returns Pebble's internal figures, or nil once closed.
func (s *Store) pebbleMetrics() *pebble.Metrics {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return nil
	}
	return s.db.Metrics()
}

// nodeMeta returns the stored node and cluster ids (found=false on a new store).
func (s *Store) nodeMeta() (*dirpb.NodeMeta, bool, error) {
	var m dirpb.NodeMeta
	found, err := getProto(s.db, keyNode, &m)
	if err != nil {
		return nil, false, fmt.Errorf("persistence: data dir %q: read node meta: %w", s.dir, err)
	}
	return &m, found, nil
}

func (s *Store) setNodeMeta(m *dirpb.NodeMeta) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := putProto(b, keyNode, m); err != nil {
		return err
	}
	return s.commit(b)
}

// applied returns the last Raft entry applied to the directory.
func (s *Store) applied() (*dirpb.Applied, error) {
	var a dirpb.Applied
	if _, err := getProto(s.db, keyApplied, &a); err != nil {
		return nil, fmt.Errorf("persistence: data dir %q: read applied index: %w", s.dir, err)
	}
	return &a, nil
}

// marshal encodes deterministically, so every node writes the same bytes.
var marshal = proto.MarshalOptions{Deterministic: true}

func putProto(b *pebble.Batch, k []byte, m proto.Message) error {
	v, err := marshal.Marshal(m)
	if err != nil {
		return fmt.Errorf("persistence: encode %q: %w", k, err)
	}
	if err := b.Set(k, v, nil); err != nil {
		return fmt.Errorf("persistence: write %q: %w", k, err)
	}
	return nil
}

// getProto reads k into m; found is false when k is absent.
func getProto(r pebble.Reader, k []byte, m proto.Message) (found bool, err error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("persistence: read %q: %w", k, err)
	}
	defer closer.Close() //nolint:errcheck // releases a pinned read buffer; its error is always nil
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("persistence: decode %q: %w", k, err)
	}
	return true, nil
}

// withSnapshot calls fn with a consistent read-only view of the store,
// keeping Close waiting until fn returns.
func (s *Store) withSnapshot(fn func(pebble.Reader) error) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	snap := s.db.NewSnapshot()
	defer snap.Close() //nolint:errcheck // releasing a snapshot only fails on a closed DB, excluded here
	return fn(snap)
}
