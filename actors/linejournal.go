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

// journalAttempts is how often an entry is written when the directory
// could not take it (no leader, the outcome unknown): repeating is safe,
// the directory refuses an entry id it holds, and the refusal counts as
// written.
const journalAttempts = 3

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
type journalWriter struct {
	mu      sync.Mutex
	pending []journalItem // guarded by mu
	running bool          // guarded by mu
	full    chan struct{} // signalled when JournalBatch entries wait; made on first use under mu
}

type journalItem struct {
	line     string
	entry    *dirpb.JournalEntry
	attempts int
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

// flush writes batch; entries the directory could not take wait for the
// next flush, up to journalAttempts, and are logged once they give up.
func (w *journalWriter) flush(d *Deps, batch []journalItem) {
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	cmds := make([]*dirpb.Command, len(batch))
	for i, it := range batch {
		cmds[i] = &dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: it.entry}}}
	}
	var retry []journalItem
	for i, r := range d.applyGroupedAll(ctx, cmds) {
		it := batch[i]
		it.attempts++
		switch {
		case r.Err == nil, errors.Is(r.Err, persistence.ErrConflict): // written (now or by an earlier attempt)
		case journalRetryable(r.Err) && it.attempts < journalAttempts:
			retry = append(retry, it)
		default:
			// No call data in the log: the entry id identifies the leg.
			d.Logger.Warn("actors: journal entry not written", "line", it.line, "entry", it.entry.GetId(), "attempts", it.attempts, "err", r.Err)
		}
	}
	if len(retry) > 0 {
		w.mu.Lock()
		w.pending = append(retry, w.pending...)
		w.mu.Unlock()
	}
}

// journalRetryable: the directory did not take the entry for a passing
// reason; a rejection or a closed node is final.
func journalRetryable(err error) bool {
	var ce *persistence.CommandError
	return !errors.As(err, &ce) && !errors.Is(err, persistence.ErrClosed)
}

// remoteName is the display name behind a remote number that is a line or
// call group of this directory ("" otherwise), from the node's cache.
func (g *lineGrain) remoteName(number string) string {
	return g.deps.names.name(g.deps.Store, number)
}
