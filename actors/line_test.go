//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putLine(number, owner, kind string, fwd *dirpb.Forwarding) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: number, Owner: owner, Kind: kind, Forwarding: fwd}}}}
}

func (n *testNode) lineCall(t *testing.T, line, id, phase, remote string) *actorspb.LineCallReply {
	t.Helper()
	resp, err := n.cn.Request(reqCtx(t), line, KindLine, &actorspb.LineCall{CallId: id, Phase: phase, Remote: remote, Node: testCallNode})
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*actorspb.LineCallReply)
}

// testCallNode is the node the test calls are held by.
const testCallNode = "sip:10.0.0.9:5060"

func (n *testNode) watchLine(t *testing.T, viewer, line string) (*Session, *actorspb.LineView) {
	t.Helper()
	s := n.hub.Open(viewer, 16)
	v, err := n.hub.WatchLine(reqCtx(t), s, line)
	if err != nil {
		t.Fatalf("%s watching line %s: %v", viewer, line, err)
	}
	return s, v
}

// lineEvent returns the session's next event, which must be of line.
func lineEvent(t *testing.T, s *Session, line string) *actorspb.LineView {
	t.Helper()
	ev := nextEvent(t, s, 5*time.Second)
	if ev.Line == nil || ev.Target != line {
		t.Fatalf("%s got %+v, want an event of line %s", s.Viewer, ev, line)
	}
	return ev.Line
}

// Line state goes to watchers filtered by the line rights: business sees
// the state and who calls (line1_see_incoming) but not the forwarding
// number; public sees only that forwarding is on; a revoked right sends
// one view without state and nothing after.
func TestLineGrain_StateFilteredPerWatcherAndRevocationStopsEvents(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("ben", false), putUser("carl", false), putGlobal("blocked"),
		putGrant("anna", "ben", "business"), putGrant("anna", "carl", "public"),
		putLine("100", "anna", "primary", &dirpb.Forwarding{Enabled: true, Destination: "555"}))

	own, v := n.watchLine(t, "anna", "100")
	if !v.GetSeesState() || v.GetState() != "idle" || v.GetForwardingDestination() != "555" || !v.GetCanForward() {
		t.Fatalf("owner's first view %v", v)
	}
	ben, v := n.watchLine(t, "ben", "100")
	if !v.GetSeesState() || v.GetState() != "idle" || !v.GetForwardingEnabled() || v.GetForwardingDestination() != "" || v.GetCanForward() {
		t.Fatalf("business first view %v", v)
	}
	carl, v := n.watchLine(t, "carl", "100")
	if v.GetSeesState() || v.GetState() != "" || !v.GetSeesForwarding() || !v.GetForwardingEnabled() {
		t.Fatalf("public first view %v", v)
	}

	if r := n.lineCall(t, "100", "call-1", "ringing", "200"); r.GetError() != nil {
		t.Fatal(r.GetError())
	}
	if v := lineEvent(t, own, "100"); v.GetState() != "ringing" || v.GetCalls()[0].GetRemote() != "200" {
		t.Fatalf("owner sees %v", v)
	}
	if v := lineEvent(t, ben, "100"); v.GetState() != "ringing" || len(v.GetCalls()) != 1 || v.GetCalls()[0].GetRemote() != "200" {
		t.Fatalf("business sees %v", v)
	}
	assertQuiet(t, carl) // nothing carl may see changed

	n.lineCall(t, "100", "call-1", "answered", "200")
	if v := lineEvent(t, own, "100"); v.GetState() != "busy" {
		t.Fatalf("owner sees %v after answer", v)
	}
	if v := lineEvent(t, ben, "100"); v.GetState() != "busy" || !v.GetCalls()[0].GetAnswered() || v.GetAv() != "unavailable" {
		t.Fatalf("business sees %v after answer", v)
	}
	// Public holds the gray AV grade: a busy line shows only as
	// "unavailable", and nothing of the state.
	if v := lineEvent(t, carl, "100"); v.GetSeesState() || v.GetAv() != "unavailable" {
		t.Fatalf("public sees %v after answer", v)
	}

	n.apply(t, deleteGrant("anna", "ben"))
	if v := lineEvent(t, ben, "100"); v.GetSeesState() || v.GetState() != "" || len(v.GetCalls()) != 0 {
		t.Fatalf("after revocation ben got %v, want a view without state", v)
	}
	n.lineCall(t, "100", "call-1", "ended", "")
	if v := lineEvent(t, own, "100"); v.GetState() != "idle" {
		t.Fatalf("owner sees %v after the end", v)
	}
	if v := lineEvent(t, carl, "100"); v.GetAv() != "available" {
		t.Fatalf("public sees %v after the end", v)
	}
	assertQuiet(t, ben)
	assertQuiet(t, carl)

	// A late step of the ended call does not bring it back.
	n.lineCall(t, "100", "call-1", "answered", "200")
	resp, err := n.cn.Request(reqCtx(t), "100", KindLine, &actorspb.GetLineState{Viewer: "anna"})
	if err != nil || resp.(*actorspb.GetLineStateReply).GetView().GetState() != "idle" {
		t.Fatalf("after a late answer: %v %v", resp, err)
	}
}

func TestLineGrain_RefusalsNameTheProblem(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	if r := n.lineCall(t, "100", "c", "on-hold", ""); r.GetError().GetCode() != "invalid" {
		t.Errorf("unknown phase: %v", r.GetError())
	}
	if r := n.lineCall(t, "999", "c", "ringing", ""); r.GetError().GetCode() != "not_found" {
		t.Errorf("unknown line: %v", r.GetError())
	}
	if _, err := n.hub.WatchLine(reqCtx(t), n.hub.Open("anna", 1), "999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("watching an unknown line: %v", err)
	}
	resp, err := n.cn.Request(reqCtx(t), "100", KindLine, &actorspb.RegisterLine{Put: []*actorspb.Binding{{Contact: ""}}})
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.(*actorspb.RegisterLineReply).GetError(); e.GetCode() != "invalid" {
		t.Errorf("binding without contact: %v", e)
	}
	if regs, _ := n.dir.Store().Registrations("100"); len(regs) != 0 {
		t.Errorf("a refused REGISTER left %v", regs)
	}
}

// Bindings go through the directory: they are there for a new activation
// (and for every node), and expired ones are not offered to the proxy.
func TestLineGrain_RegistrationsAreDurable(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	now := time.Now().Unix()
	register := func(m *actorspb.RegisterLine) []*actorspb.Binding {
		t.Helper()
		resp, err := n.cn.Request(reqCtx(t), "100", KindLine, m)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*actorspb.RegisterLineReply)
		if r.GetError() != nil {
			t.Fatal(r.GetError())
		}
		return r.GetBindings()
	}
	got := register(&actorspb.RegisterLine{Put: []*actorspb.Binding{
		{Contact: "sip:100@192.0.2.1:5060", ExpiresAtUnix: now + 3600, CallId: "reg-1", Cseq: 1},
		{Contact: "sip:100@192.0.2.2:5060", ExpiresAtUnix: now + 3600, CallId: "reg-2", Cseq: 1},
	}})
	if len(got) != 2 {
		t.Fatalf("bindings after REGISTER: %v", got)
	}
	// An already expired binding (the sweeper has not run) is not current.
	n.apply(t, &dirpb.Command{Op: &dirpb.Command_PutRegistration{PutRegistration: &dirpb.PutRegistration{
		Registration: &dirpb.Registration{Line: "100", Contact: "sip:100@192.0.2.3:5060", ExpiresAtUnix: now - 1}}}})
	if regs, _ := n.dir.Store().Registrations("100"); len(regs) != 3 {
		t.Fatalf("directory holds %d bindings, want 3", len(regs))
	}
	contacts := func() []*actorspb.Binding {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := n.cn.Request(reqCtx(t), "100", KindLine, &actorspb.GetContacts{})
			if err != nil {
				t.Fatal(err)
			}
			bs := resp.(*actorspb.GetContactsReply).GetBindings()
			if len(bs) == 2 || time.Now().After(deadline) {
				return bs
			}
			time.Sleep(10 * time.Millisecond) // polling the grain, which follows the change feed
		}
	}
	if bs := contacts(); len(bs) != 2 {
		t.Fatalf("current contacts %v, want the 2 unexpired", bs)
	}
	// A new activation reads them from the directory.
	pid := n.deps.local.get(KindLine, "100")
	if pid == nil {
		t.Fatal("line grain not active")
	}
	n.cn.Cluster().ActorSystem.Root.Poison(pid)
	if bs := contacts(); len(bs) != 2 {
		t.Fatalf("after reactivation: %v", bs)
	}
	if got := register(&actorspb.RegisterLine{RemoveAll: true}); len(got) != 0 {
		t.Fatalf("after '*' removal: %v", got)
	}
	if regs, _ := n.dir.Store().Registrations("100"); len(regs) != 0 {
		t.Errorf("directory still holds %v", regs)
	}
}

// A line grain says what rings on it and on which node: what a pickup
// from another node looks for. Ended calls are gone.
func TestLineGrain_LineCallsNameTheNodeHoldingEachCall(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	c := Client{To: n.cn}
	ctx := reqCtx(t)
	t0 := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	for _, ev := range []CallEvent{
		{CallID: "in", Phase: linestate.PhaseRinging, Remote: "200", At: t0, Node: "sip:10.0.0.1:5060"},
		{CallID: "out", Phase: linestate.PhaseRinging, Outgoing: true, Remote: "300", At: t0, Node: "sip:10.0.0.2:5060"},
		{CallID: "out", Phase: linestate.PhaseAnswered, Outgoing: true, At: t0.Add(time.Millisecond)},
	} {
		if err := c.LineCall(ctx, "100", ev); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.LineCalls(ctx, "100")
	if err != nil {
		t.Fatal(err)
	}
	want := []LineCallInfo{
		{CallID: "in", Remote: "200", Since: t0, Started: t0, Node: "sip:10.0.0.1:5060"},
		{CallID: "out", Answered: true, Outgoing: true, Remote: "300", Since: t0.Add(time.Millisecond), Started: t0, Node: "sip:10.0.0.2:5060"},
	}
	if len(got) != len(want) {
		t.Fatalf("calls %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Since.Equal(want[i].Since) || !got[i].Started.Equal(want[i].Started) {
			t.Fatalf("[%d] times %+v, want %+v", i, got[i], want[i])
		}
		got[i].Since, got[i].Started, want[i].Since, want[i].Started = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got[i] != want[i] {
			t.Fatalf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := c.LineCall(ctx, "100", CallEvent{CallID: "in", Phase: linestate.PhaseEnded}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.LineCalls(ctx, "100"); err != nil || len(got) != 1 || got[0].CallID != "out" {
		t.Fatalf("after the end: %+v %v", got, err)
	}
	if _, err := c.LineCalls(ctx, "999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a line not in the directory: %v, want ErrNotFound", err)
	}
}
