package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func queuedEntry(i int) *dirpb.JournalEntry {
	return &dirpb.JournalEntry{Id: fmt.Sprintf("q%03d", i), Owner: "alice", Line: "100", Direction: "in",
		Outcome: "answered", CallId: fmt.Sprintf("c%03d", i), StartUnix: int64(1_800_000_000 + i)}
}

// The journal queue of a cut-off node survives a restart in the middle
// of committing it, keeps its order, and stays on the node: a backup (a
// snapshot) does not carry it to another node.
func TestJournalQueue_SurvivesRestartInOrderAndStaysLocal(t *testing.T) {
	dirPath := t.TempDir()
	cfg := testConfig(t, dirPath)
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 10 {
		if err := n.Store().QueueJournal([]*dirpb.JournalEntry{queuedEntry(2 * i), queuedEntry(2*i + 1)}, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := n.Store().QueuedJournalEntries(5)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Store().DequeueJournal([][]byte{first[0].Key, first[1].Key, first[2].Key}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = openNode(t, cfg)
	count, oldest, err := n.Store().JournalQueueStats()
	if err != nil {
		t.Fatal(err)
	}
	if count != 17 || !oldest.Equal(t0.Add(time.Second)) {
		t.Fatalf("after restart: %d queued, oldest %v; want 17, %v", count, oldest, t0.Add(time.Second))
	}
	all, err := n.Store().QueuedJournalEntries(100)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range all {
		if want := fmt.Sprintf("q%03d", i+3); q.Entry.GetId() != want {
			t.Fatalf("queue[%d] = %s, want %s (oldest first)", i, q.Entry.GetId(), want)
		}
	}
	// Entries queued after the restart go behind the old ones.
	if err := n.Store().QueueJournal([]*dirpb.JournalEntry{queuedEntry(99)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	all, _ = n.Store().QueuedJournalEntries(100)
	if last := all[len(all)-1].Entry.GetId(); last != "q099" {
		t.Fatalf("last queued %s, want q099", last)
	}

	var backup bytes.Buffer
	if _, err := n.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	other := newNode(t)
	if err := other.Restore(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := other.Store().JournalQueueStats(); c != 0 {
		t.Fatalf("a restored node holds %d queued entries of another node, want none", c)
	}
	if c, _, _ := n.Store().JournalQueueStats(); c != 18 {
		t.Fatalf("the backup took entries from the queue: %d left, want 18", c)
	}
}

// The registration queue of a cut-off node survives a restart in order,
// apart from the journal queue, and stays on the node.
func TestRegistrationQueue_SurvivesRestartInOrderAndStaysLocal(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var keys [][]byte
	for i := range 5 {
		u := &dirpb.UpdateRegistrations{Line: fmt.Sprintf("10%d", i%2), Remove: []string{fmt.Sprintf("sip:%d@192.0.2.1", i)}}
		k, err := n.Store().QueueRegistrations(u, now) // one instant: the sequence keeps the order
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := n.Store().QueueJournal([]*dirpb.JournalEntry{queuedEntry(1)}, now); err != nil {
		t.Fatal(err)
	}
	if err := n.Store().DequeueRegistrations(keys[:1]); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = openNode(t, cfg)
	got, err := n.Store().QueuedRegistrationUpdates()
	if err != nil {
		t.Fatal(err)
	}
	var contacts []string
	for _, q := range got {
		contacts = append(contacts, q.Update.GetLine()+" "+q.Update.GetRemove()[0])
	}
	if want := "101 sip:1@192.0.2.1,100 sip:2@192.0.2.1,101 sip:3@192.0.2.1,100 sip:4@192.0.2.1"; fmt.Sprint(strings.Join(contacts, ",")) != want {
		t.Fatalf("registration queue after restart: %v, want %s", contacts, want)
	}
	if c, _, _ := n.Store().JournalQueueStats(); c != 1 {
		t.Fatalf("journal queue beside the registration queue: %d entries, want 1", c)
	}
	if _, err := n.Store().QueueRegistrations(&dirpb.UpdateRegistrations{}, now); err == nil {
		t.Fatal("an update without a line was queued")
	}
	var backup bytes.Buffer
	if _, err := n.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	other := newNode(t)
	if err := other.Restore(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	if q, _ := other.Store().QueuedRegistrationUpdates(); len(q) != 0 {
		t.Fatalf("a restored node holds %d queued registration updates of another node, want none", len(q))
	}
}

func TestJournalQueue_RefusesEntriesWithoutID(t *testing.T) {
	n := newNode(t)
	err := n.Store().QueueJournal([]*dirpb.JournalEntry{{Owner: "alice"}}, time.Now())
	if err == nil {
		t.Fatal("an entry without id was queued")
	}
}

// Committing the same entry twice (a queued entry whose first write's
// outcome was unknown) stores it once: the second is refused as a
// conflict, which the journal writer counts as written.
func TestFSM_JournalEntryCommittedTwiceIsStoredOnce(t *testing.T) {
	n := newNode(t)
	mustApply(t, n, putUser("alice"))
	e := queuedEntry(1)
	res := n.ApplyGroupedAll(context.Background(), []*dirpb.Command{appendJournal(e), appendJournal(e)})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if _, err := n.Apply(context.Background(), appendJournal(e)); err == nil || !isConflict(err) {
		t.Fatalf("second commit: %v, want a conflict", err)
	}
	es, err := n.Store().Journal(JournalQuery{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
}

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }
