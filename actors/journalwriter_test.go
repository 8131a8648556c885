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

// A write the directory could not take (no leader) is tried again at the
// next flush; a rejected entry (unknown owner) is given up at once and
// logged; an entry already written (a repeat) counts as written.
func TestJournalWriter_RetriesPassingFailuresAndGivesUpRejections(t *testing.T) {
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
			out := make([]persistence.Result, len(cmds))
			for i := range out {
				out[i].Err = fmt.Errorf("%w: election under way", persistence.ErrNoLeader)
			}
			return out
		}
		return applyAll(ctx, cmds)
	}
	d.journal.add(d, legEntry("anna", 1))
	d.journal.add(d, legEntry("nobody", 2))
	d.journal.add(d, legEntry("anna", 1)) // the same leg again
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

func TestJournalWriter_GivesUpAfterItsAttempts(t *testing.T) {
	_, d := journalDir(t)
	var calls atomic.Int64
	d.ApplyGroupedAll = func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		calls.Add(1)
		return []persistence.Result{{Err: persistence.ErrOutcomeUnknown}}
	}
	d.journal.add(d, legEntry("anna", 1))
	d.WaitAside()
	if c := calls.Load(); c != journalAttempts {
		t.Fatalf("%d writes, want %d", c, journalAttempts)
	}
}
