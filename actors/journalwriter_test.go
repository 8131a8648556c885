package actors

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/journal"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// journalDir opens a directory node with one user, anna, and Deps that
// write through it.
func journalDir(t *testing.T) (*persistence.Node, *Deps) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := persistence.Open(ctx, persistence.Config{Dir: t.TempDir(), Logger: testlog.New(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dir.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := dir.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "anna", DisplayName: "Anna"}}}}); err != nil {
		t.Fatal(err)
	}
	return dir, &Deps{Store: dir.Store(), Apply: dir.Apply, ApplyGrouped: dir.ApplyGrouped,
		ApplyGroupedAll: dir.ApplyGroupedAll, Logger: testlog.New(t, slog.LevelError)}
}

func legEntry(owner string, i int) journalItem {
	id := fmt.Sprintf("c%04d", i)
	return journalItem{line: "100", entry: &dirpb.JournalEntry{Id: journal.EntryID("100", id), Owner: owner, Line: "100",
		Direction: "in", Outcome: "answered", CallId: id, StartUnix: int64(1_800_000_000 + i)}}
}

// Many lines ending calls at once: every entry lands exactly once, in
// far fewer directory writes than entries.
func TestJournalWriter_ConcurrentEndedLegsLandExactlyOnce(t *testing.T) {
	dir, d := journalDir(t)
	var writes atomic.Int64
	applyAll := d.ApplyGroupedAll
	d.ApplyGroupedAll = func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		writes.Add(1)
		return applyAll(ctx, cmds)
	}
	const legs = 500
	var wg sync.WaitGroup
	for i := range legs {
		wg.Go(func() { d.journal.add(d, legEntry("anna", i)) })
	}
	wg.Wait()
	d.WaitAside()
	es, err := dir.Store().Journal(persistence.JournalQuery{Owner: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range es {
		seen[e.CallId]++
	}
	for i := range legs {
		if id := fmt.Sprintf("c%04d", i); seen[id] != 1 {
			t.Errorf("leg %s journaled %d times, want once", id, seen[id])
		}
	}
	if len(es) != legs {
		t.Errorf("%d entries, want %d", len(es), legs)
	}
	if w := writes.Load(); w >= legs {
		t.Errorf("%d directory writes for %d entries: not batched", w, legs)
	}
	if d.journal.running || len(d.journal.pending) != 0 {
		t.Errorf("writer still running (%v) or entries pending (%d) after WaitAside", d.journal.running, len(d.journal.pending))
	}
}

// A write the directory could not take (no leader) is queued on the node
// and committed from there; a rejected entry (unknown owner) is given up
// and logged; an entry already written (a repeat) counts as written.
func TestJournalWriter_QueuesPassingFailuresAndGivesUpRejections(t *testing.T) {
	dir, d := journalDir(t)
	var calls, nobody atomic.Int64
	applyAll := d.ApplyGroupedAll
	d.ApplyGroupedAll = func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		for _, c := range cmds {
			if c.GetAppendJournal().GetEntry().GetOwner() == "nobody" {
				nobody.Add(1)
			}
		}
		if calls.Add(1) == 1 {
			return failAll(cmds, fmt.Errorf("%w: election under way", persistence.ErrNoLeader))
		}
		return applyAll(ctx, cmds)
	}
	d.journal.add(d, legEntry("anna", 1))
	d.journal.add(d, legEntry("nobody", 2))
	d.journal.add(d, legEntry("anna", 1)) // the same leg again
	pollJournal(t, 10*time.Second, queueDrained(dir))
	d.WaitAside()
	es, err := dir.Store().Journal(persistence.JournalQuery{Owner: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].CallId != "c0001" {
		t.Fatalf("anna's journal %v, want c0001 once", es)
	}
	if c := nobody.Load(); c != 2 {
		t.Fatalf("the rejected entry was sent %d times, want 2 (failed, then rejected)", c)
	}
}

func failAll(cmds []*dirpb.Command, err error) []persistence.Result {
	out := make([]persistence.Result, len(cmds))
	for i := range out {
		out[i].Err = err
	}
	return out
}

// queueDrained is a check for eventually: the node's journal queue is
// empty.
func queueDrained(dir *persistence.Node) func() string {
	return func() string {
		n, _, err := dir.Store().JournalQueueStats()
		if err != nil || n != 0 {
			return fmt.Sprintf("journal queue holds %d entries (err %v), want none", n, err)
		}
		return ""
	}
}

// While no leader takes writes (a node cut off from the majority), every
// entry waits in the node's durable queue, also those made after the
// first failure, whatever the outcome of a try (unknown: maybe applied);
// when a leader answers again each lands exactly once, and a new actor
// layer (ResumeJournal) takes over a queue its predecessor left.
func TestJournalWriter_CutOffNodeQueuesAndCommitsOnceAfterHeal(t *testing.T) {
	dir, d := journalDir(t)
	var cut atomic.Bool
	cut.Store(true)
	applyAll := d.ApplyGroupedAll
	write := func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		if !cut.Load() {
			return applyAll(ctx, cmds)
		}
		// The first of them reached the directory but no answer came back.
		applyAll(ctx, cmds[:1])
		return failAll(cmds, persistence.ErrOutcomeUnknown)
	}
	d.ApplyGroupedAll = write
	const legs = 40
	for i := range legs / 2 {
		d.journal.add(d, legEntry("anna", i))
	}
	pollJournal(t, 10*time.Second, func() string {
		if n, _, _ := dir.Store().JournalQueueStats(); n != legs/2 {
			return fmt.Sprintf("%d entries queued, want %d", n, legs/2)
		}
		return ""
	})
	d.WaitAside() // the actor layer stops; the queue stays

	d2 := &Deps{Store: dir.Store(), Apply: dir.Apply, ApplyGrouped: dir.ApplyGrouped,
		ApplyGroupedAll: write, Logger: d.Logger}
	if err := d2.ResumeJournal(); err != nil {
		t.Fatal(err)
	}
	for i := legs / 2; i < legs; i++ {
		d2.journal.add(d2, legEntry("anna", i))
	}
	pollJournal(t, 10*time.Second, func() string {
		if n, oldest, _ := dir.Store().JournalQueueStats(); n != legs || oldest.IsZero() {
			return fmt.Sprintf("%d entries queued (oldest %v), want %d", n, oldest, legs)
		}
		return ""
	})
	cut.Store(false)
	pollJournal(t, 20*time.Second, queueDrained(dir))
	d2.WaitAside()
	es, err := dir.Store().Journal(persistence.JournalQuery{Owner: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range es {
		seen[e.CallId]++
	}
	for i := range legs {
		if id := fmt.Sprintf("c%04d", i); seen[id] != 1 {
			t.Errorf("leg %s journaled %d times, want once", id, seen[id])
		}
	}
}

// pollJournal polls check until it returns "" or within passes.
func pollJournal(t *testing.T, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for msg := check(); msg != ""; msg = check() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}
