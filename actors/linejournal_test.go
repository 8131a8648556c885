//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"context"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/journal"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func (n *testNode) step(t *testing.T, line string, m *actorspb.LineCall) {
	t.Helper()
	resp, err := n.cn.Request(reqCtx(t), line, KindLine, m)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*actorspb.LineCallReply); r.GetError() != nil {
		t.Fatalf("line %s step %v: %v", line, m, r.GetError())
	}
}

// journalOf reads owner's journal once the line grains' journal writes
// (made aside) are done.
func (n *testNode) journalOf(t *testing.T, owner string) map[string]*dirpb.JournalEntry {
	t.Helper()
	n.deps.aside.Wait()
	es, err := n.dir.Store().Journal(persistence.JournalQuery{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dirpb.JournalEntry{}
	for _, e := range es {
		out[e.CallId] = e
	}
	return out
}

// The line grain writes one journal entry per call leg when the call
// ends: outcome, direction, remote party and its name, ring and talk
// time; a repeated end writes nothing more; a private line writes nothing.
func TestLineGrain_JournalsEndedCallsOnce(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("ben", false), putLine("100", "anna", "primary", nil),
		putLine("200", "ben", "primary", nil),
		&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "199", Owner: "anna", Kind: "secondary", Private: true}}}})
	const t0 = int64(1_800_000_000_000)
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ringing", Remote: "200", AtUnixMs: t0})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "answered", Remote: "200", AtUnixMs: t0 + 5_000})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ended", Remote: "200", AtUnixMs: t0 + 65_000})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ended", Remote: "200", AtUnixMs: t0 + 66_000})
	n.step(t, "100", &actorspb.LineCall{CallId: "c2", Phase: "ringing", Remote: "+4930999", AtUnixMs: t0 + 100_000, Group: "sales"})
	n.step(t, "100", &actorspb.LineCall{CallId: "c2", Phase: "ended", Remote: "+4930999", AtUnixMs: t0 + 108_000, Outcome: journal.AnsweredElsewhere})
	n.step(t, "100", &actorspb.LineCall{CallId: "c3", Phase: "ringing", Outgoing: true, Remote: "555", AtUnixMs: t0 + 200_000})
	n.step(t, "100", &actorspb.LineCall{CallId: "c3", Phase: "ended", Outgoing: true, Remote: "555", AtUnixMs: t0 + 203_000})
	n.step(t, "199", &actorspb.LineCall{CallId: "p1", Phase: "ringing", Remote: "+4930111", AtUnixMs: t0})
	n.step(t, "199", &actorspb.LineCall{CallId: "p1", Phase: "answered", Remote: "+4930111", AtUnixMs: t0 + 1_000})
	n.step(t, "199", &actorspb.LineCall{CallId: "p1", Phase: "ended", Remote: "+4930111", AtUnixMs: t0 + 9_000})
	// An end of a call the line never saw (its grain restarted) writes nothing.
	n.step(t, "100", &actorspb.LineCall{CallId: "c9", Phase: "ended", Remote: "200", AtUnixMs: t0})

	got := n.journalOf(t, "anna")
	if len(got) != 3 {
		t.Fatalf("anna's journal has %d entries, want 3 (c1, c2, c3; nothing of the private line): %v", len(got), got)
	}
	want := map[string]struct {
		outcome, dir, remote, name, group string
		ring, talk                        int32
	}{
		"c1": {"answered", "in", "200", "ben", "", 5, 60},
		"c2": {"answered_elsewhere", "in", "+4930999", "", "sales", 8, 0},
		"c3": {"cancelled", "out", "555", "", "", 3, 0},
	}
	for id, w := range want {
		e := got[id]
		if e == nil || e.Outcome != w.outcome || e.Direction != w.dir || e.RemoteNumber != w.remote || e.RemoteName != w.name ||
			e.Group != w.group || e.RingS != w.ring || e.TalkS != w.talk || e.Line != "100" || e.Id != journal.EntryID("100", id) {
			t.Errorf("entry of %s = %v, want %+v", id, e, w)
		}
	}
	if e := got["c1"]; e.StartUnix != t0/1000 {
		t.Errorf("c1 starts at %d, want %d", e.StartUnix, t0/1000)
	}
}

// The journal entry's Raft commit does not hold the line grain: while it
// is held, the grain still answers the next call's questions (a group
// call's ring plan asks it for contacts), and the entry lands after.
func TestLineGrain_AnswersWhileItsJournalEntryCommits(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	release := make(chan struct{})
	applyAll := n.deps.ApplyGroupedAll
	// Set before the line grain first runs; its first message orders it.
	n.deps.ApplyGroupedAll = func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		if cmds[0].GetAppendJournal() != nil {
			select {
			case <-release:
			case <-ctx.Done():
				return []persistence.Result{{Err: ctx.Err()}}
			}
		}
		return applyAll(ctx, cmds)
	}
	const t0 = int64(1_800_000_000_000)
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ringing", Remote: "+4930999", AtUnixMs: t0})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ended", Remote: "+4930999", AtUnixMs: t0 + 3_000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := n.cn.Request(ctx, "100", KindLine, &actorspb.GetContacts{})
	if err != nil {
		t.Fatalf("line grain did not answer while its journal entry was committing: %v", err)
	}
	if r := resp.(*actorspb.GetContactsReply); r.GetError() != nil || r.GetState() != "idle" {
		t.Fatalf("contacts while committing: %v", r)
	}
	close(release)
	if got := n.journalOf(t, "anna"); len(got) != 1 || got["c1"] == nil {
		t.Fatalf("anna's journal %v, want the one call", got)
	}
}

// A transfer reported on any step of a call (the REFER comes while it is
// answered; a referred call says so from its first step) reaches the
// call's journal entry: who transferred it and to whom.
func TestLineGrain_JournalsTransfer(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	const t0 = int64(1_800_000_000_000)
	// c1: anna's call to 200, which 200 transfers to 300 (REFER).
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ringing", Outgoing: true, Remote: "200", AtUnixMs: t0})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "answered", Outgoing: true, Remote: "200", AtUnixMs: t0 + 1_000})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "answered", Outgoing: true, Remote: "200", AtUnixMs: t0 + 5_000,
		TransferredBy: "200", TransferredTo: "300"})
	n.step(t, "100", &actorspb.LineCall{CallId: "c1", Phase: "ended", Outgoing: true, Remote: "200", AtUnixMs: t0 + 6_000})
	// c2: the new call to 300, referred by 200.
	n.step(t, "100", &actorspb.LineCall{CallId: "c2", Phase: "ringing", Outgoing: true, Remote: "300", AtUnixMs: t0 + 6_000,
		TransferredBy: "200", TransferredTo: "300"})
	n.step(t, "100", &actorspb.LineCall{CallId: "c2", Phase: "answered", Outgoing: true, Remote: "300", AtUnixMs: t0 + 7_000})
	n.step(t, "100", &actorspb.LineCall{CallId: "c2", Phase: "ended", Outgoing: true, Remote: "300", AtUnixMs: t0 + 9_000})
	got := n.journalOf(t, "anna")
	for _, id := range []string{"c1", "c2"} {
		if e := got[id]; e == nil || e.TransferredBy != "200" || e.TransferredTo != "300" {
			t.Errorf("entry of %s = %v, want transferred by 200 to 300", id, e)
		}
	}
}
