package actors

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/actors/journal"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// journalTimeout bounds the directory write of one batch of journal
// entries.
const journalTimeout = 5 * time.Second

// endingCall returns the call an ended step ends: one the line holds now
// (a repeated or unknown end ends nothing, so it journals nothing).
func endingCall(l linestate.Line, id string, phase linestate.Phase) (linestate.Call, bool) {
	if phase != linestate.PhaseEnded {
		return linestate.Call{}, false
	}
	i := slices.IndexFunc(l.Calls, func(c linestate.Call) bool { return c.ID == id })
	if i < 0 {
		return linestate.Call{}, false
	}
	return l.Calls[i], true
}

// writeJournal writes the journal entry of a call that ended on the line
// through the directory. Private lines write nothing. The entry is built
// here and handed to the node's journal writer, which commits the entries
// of every line in batches (one Raft entry per flush), so the grain
// answers the next call's questions meanwhile (the journal is read from
// the directory, never from the grain). The entry id is derived from line
// and call, so a second write of the same leg is refused by the directory
// and ignored here.
func (g *lineGrain) writeJournal(c linestate.Call, ended time.Time, reason string) {
	e, ok := journal.Entry(journal.Leg{Line: g.id, Owner: g.owner(), Private: g.record.GetPrivate(), Call: c,
		Ended: ended, Reason: reason, RemoteName: g.remoteName(c.Remote)})
	if !ok {
		return
	}
	g.deps.journal.add(g.deps, journalItem{line: g.id, entry: e})
}

// DefaultJournalFlush is how long the journal writer collects the entries
// of ended calls before it writes them as one Raft entry: a few
// milliseconds keep the Raft commit off the call path and make one entry
// out of every call that ended meanwhile, and bound what a crash loses.
const DefaultJournalFlush = 5 * time.Millisecond

// DefaultJournalBatch flushes at once when this many entries wait, so a
// burst does not wait out the interval (a batch of the directory takes up
// to 512 commands).
const DefaultJournalBatch = 256

// journalRetryMin and journalRetryMax bound the pause between two tries
// of the journal queue while no leader takes it (the node is cut off from
// the majority): it doubles from min to max, and resets on progress.
const (
	journalRetryMin = 250 * time.Millisecond
	journalRetryMax = 5 * time.Second
)

func (d *Deps) journalFlush() time.Duration {
	if d.JournalFlush > 0 {
		return d.JournalFlush
	}
	return DefaultJournalFlush
}

func (d *Deps) journalBatch() int {
	if d.JournalBatch > 0 {
		return d.JournalBatch
	}
	return DefaultJournalBatch
}

// journalWriter collects the journal entries of a node's lines and writes
// them in batches through group commit. Its goroutine runs (counted in
// Deps.aside, so a stopping node waits for the last flush) only while
// entries wait or are being written. The zero value is ready.
//
// Entries the directory could not take for lack of a leader (the node is
// cut off from the majority of the cluster, or the outcome is unknown)
// go to the node's durable journal queue (persistence.Store.QueueJournal),
// and so do all later entries while the queue holds any, so they are
// committed oldest first. A drainer goroutine commits the queue once a
// leader takes writes again. Every entry carries its id from the start
// (journal.EntryID), and the directory refuses an id it holds, so an entry
// committed twice (a write whose outcome was unknown) is stored once.
//
// Lock order: mu and qmu are never held together.
type journalWriter struct {
	mu      sync.Mutex
	pending []journalItem // guarded by mu
	running bool          // guarded by mu
	full    chan struct{} // signalled when JournalBatch entries wait; made on first use under mu

	// qmu orders the writer's choice between Raft and the queue with the
	// drainer's finding that the queue is empty.
	qmu      sync.Mutex
	backlog  bool          // guarded by qmu: the queue holds entries
	draining bool          // guarded by qmu: the drainer runs
	stop     chan struct{} // closed by halt; made on first use under qmu
	halted   bool          // guarded by qmu
	drainers sync.WaitGroup
}

type journalItem struct {
	line  string
	entry *dirpb.JournalEntry
}

func (w *journalWriter) add(d *Deps, it journalItem) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full == nil {
		w.full = make(chan struct{}, 1)
	}
	w.pending = append(w.pending, it)
	if len(w.pending) >= d.journalBatch() {
		select {
		case w.full <- struct{}{}:
		default: // already signalled
		}
	}
	if !w.running {
		w.running = true
		d.goAside(func() { w.run(d) })
	}
}

// run flushes every JournalFlush (or when a batch is full) until nothing
// waits.
func (w *journalWriter) run(d *Deps) {
	tick := time.NewTimer(d.journalFlush())
	defer tick.Stop()
	for {
		w.mu.Lock()
		full := w.full
		w.mu.Unlock()
		select {
		case <-tick.C:
		case <-full:
		}
		batch := w.take()
		if batch == nil {
			return
		}
		w.flush(d, batch)
		tick.Reset(d.journalFlush())
	}
}

// take removes the waiting entries; nil, and the goroutine ends, when
// none wait.
func (w *journalWriter) take() []journalItem {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := w.pending
	w.pending = nil
	if len(batch) == 0 {
		w.running = false
		return nil
	}
	return batch
}

// flush writes batch, or queues it behind the entries already queued.
// Entries the directory could not take for lack of a leader are queued;
// rejected ones are logged and given up.
func (w *journalWriter) flush(d *Deps, batch []journalItem) {
	if w.queueBehindBacklog(d, batch) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	cmds := make([]*dirpb.Command, len(batch))
	for i, it := range batch {
		cmds[i] = appendJournal(it.entry)
	}
	var later []journalItem
	for i, r := range d.applyGroupedAll(ctx, cmds) {
		it := batch[i]
		switch {
		case r.Err == nil, errors.Is(r.Err, persistence.ErrConflict): // written (now or by an earlier attempt)
		case journalQueueable(r.Err):
			later = append(later, it)
		default:
			w.givenUp(d, it.line, it.entry, r.Err)
		}
	}
	if len(later) > 0 {
		w.enqueue(d, later)
	}
}

func appendJournal(e *dirpb.JournalEntry) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: e}}}
}

// givenUp logs an entry that will not be written. No call data in the
// log: the entry id identifies the leg.
func (w *journalWriter) givenUp(d *Deps, line string, e *dirpb.JournalEntry, err error) {
	d.Logger.Warn("actors: journal entry not written", "line", line, "entry", e.GetId(), "err", err)
}

// journalQueueable: the directory did not take the entry for want of a
// leader or an answer, which passes; a rejection is final. A closed node
// (stopping) queues too: the queue outlives the process.
func journalQueueable(err error) bool {
	var ce *persistence.CommandError
	return !errors.As(err, &ce)
}

// queueBehindBacklog queues batch when the queue holds entries, so
// entries reach the directory in the order they were made.
func (w *journalWriter) queueBehindBacklog(d *Deps, batch []journalItem) bool {
	w.qmu.Lock()
	backlog := w.backlog
	w.qmu.Unlock()
	if !backlog {
		return false
	}
	w.enqueue(d, batch)
	return true
}

// enqueue stores items in the node's durable journal queue and starts the
// drainer.
func (w *journalWriter) enqueue(d *Deps, items []journalItem) {
	entries := make([]*dirpb.JournalEntry, len(items))
	for i, it := range items {
		entries[i] = it.entry
	}
	w.qmu.Lock()
	defer w.qmu.Unlock()
	if d.Store == nil {
		for _, it := range items {
			w.givenUp(d, it.line, it.entry, errors.New("actors: no store to queue the journal in"))
		}
		return
	}
	if err := d.Store.QueueJournal(entries, time.Now()); err != nil {
		for _, it := range items {
			w.givenUp(d, it.line, it.entry, err)
		}
		return
	}
	if !w.backlog {
		d.Logger.Warn("actors: the directory takes no journal entries (no Raft leader reachable); queueing them on this node until it does")
	}
	w.backlog = true
	w.startDrainer(d)
}

// startDrainer starts the drainer unless it runs or the writer halted.
// The caller holds qmu.
func (w *journalWriter) startDrainer(d *Deps) {
	if w.draining || w.halted {
		return
	}
	if w.stop == nil {
		w.stop = make(chan struct{})
	}
	w.draining = true
	w.drainers.Go(func() { w.drain(d, w.stop) })
}

// resume starts the drainer when the node's queue holds entries from
// before (an earlier actor layer, or an earlier run of the process).
func (w *journalWriter) resume(d *Deps) error {
	if d.Store == nil {
		return nil
	}
	n, _, err := d.Store.JournalQueueStats()
	if err != nil || n == 0 {
		return err
	}
	w.qmu.Lock()
	defer w.qmu.Unlock()
	w.backlog = true
	w.startDrainer(d)
	return nil
}

// halt stops the drainer and waits for it; the queue stays on disk for
// the next actor layer or run.
func (w *journalWriter) halt() {
	w.qmu.Lock()
	if !w.halted {
		w.halted = true
		if w.stop != nil {
			close(w.stop)
		}
	}
	w.qmu.Unlock()
	w.drainers.Wait()
}

// drain commits the queue, oldest first, until it is empty or the writer
// halts, pausing between tries that made no progress.
func (w *journalWriter) drain(d *Deps, stop <-chan struct{}) {
	if retryRounds(stop, func() (bool, bool) { return w.drainOnce(d) }) {
		w.qmu.Lock()
		w.draining = false
		w.qmu.Unlock()
	}
}

// retryRounds calls round until it reports nothing more to do (true is
// returned once stop closes instead): again at once after a round that
// made progress, else after a pause that doubles from journalRetryMin
// to journalRetryMax. The journal queue and the registrations a node
// keeps while cut off both drain this way.
func retryRounds(stop <-chan struct{}, round func() (more, progress bool)) (stopped bool) {
	pause := journalRetryMin
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return true
		case <-t.C:
		}
		more, progress := round()
		if !more {
			return false
		}
		if progress {
			pause = journalRetryMin
			t.Reset(0)
			continue
		}
		t.Reset(pause)
		pause = min(2*pause, journalRetryMax)
	}
}

// drainOnce writes the oldest batch of the queue and removes what the
// directory took or refused for good. more is false once the queue is
// empty (the drainer ends); progress, when some entry left the queue.
func (w *journalWriter) drainOnce(d *Deps) (more, progress bool) {
	w.qmu.Lock()
	items, err := d.Store.QueuedJournalEntries(d.journalBatch())
	if err == nil && len(items) == 0 {
		w.backlog, w.draining = false, false
		w.qmu.Unlock()
		d.Logger.Info("actors: the journal queue is committed")
		return false, false
	}
	w.qmu.Unlock()
	if err != nil {
		d.Logger.Warn("actors: journal queue unreadable", "err", err)
		return true, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	cmds := make([]*dirpb.Command, len(items))
	for i, q := range items {
		cmds[i] = appendJournal(q.Entry)
	}
	var done [][]byte
	for i, r := range d.applyGroupedAll(ctx, cmds) {
		switch {
		case r.Err == nil, errors.Is(r.Err, persistence.ErrConflict):
		case journalQueueable(r.Err):
			continue
		default:
			w.givenUp(d, items[i].Entry.GetLine(), items[i].Entry, r.Err)
		}
		done = append(done, items[i].Key)
	}
	if len(done) == 0 {
		return true, false
	}
	if err := d.Store.DequeueJournal(done); err != nil {
		d.Logger.Warn("actors: journal queue not updated", "err", err)
		return true, false
	}
	return true, true
}

// remoteName is the display name behind a remote number that is a line or
// call group of this directory ("" otherwise), from the node's cache.
func (g *lineGrain) remoteName(number string) string {
	return g.deps.names.name(g.deps.Store, number)
}
