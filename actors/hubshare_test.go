package actors

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// chanSink is a Sink that queues its events for the test.
type chanSink struct {
	ch    chan Event
	ended chan bool
}

func newChanSink(n int) *chanSink {
	return &chanSink{ch: make(chan Event, n), ended: make(chan bool, 1)}
}

func (c *chanSink) Deliver(ev Event) bool {
	select {
	case c.ch <- ev:
		return true
	default:
		return false
	}
}

func (c *chanSink) End(lagged bool) { c.ended <- lagged }

func (c *chanSink) next(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-c.ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return Event{}
	}
}

// Sessions whose views of a change are equal share one Shared; sessions
// that see it differently (another note, not at all) never get each
// other's, even when the batch came over the wire with one view message
// per delivery.
func TestHub_SharesOnlyAmongEqualViews(t *testing.T) {
	h, system := startPlainHub(t)
	names := []string{"team1", "team2", "public", "blocked"}
	sinks := map[string]*chanSink{}
	ids := map[string]string{}
	for _, n := range names {
		sinks[n] = newChanSink(4)
		ids[n] = h.OpenSink(n, sinks[n]).ID
	}
	// As a remote batch arrives: a distinct message per delivery.
	withNote := func() *actorspb.PresenceView {
		return &actorspb.PresenceView{Visible: true, State: "busy", Note: "call"}
	}
	system.Root.Send(h.bound.Load().pid, &actorspb.PresenceBatch{Target: "anna", Deliveries: []*actorspb.PresenceDelivery{
		{Session: ids["team1"], View: withNote()},
		{Session: ids["public"], View: &actorspb.PresenceView{Visible: true, State: "busy"}},
		{Session: ids["team2"], View: withNote()},
		{Session: ids["blocked"], View: &actorspb.PresenceView{}},
	}})
	got := map[string]Event{}
	for _, n := range names {
		got[n] = sinks[n].next(t)
		if got[n].Shared == nil {
			t.Fatalf("%s: event not shared", n)
		}
	}
	if got["team1"].Shared != got["team2"].Shared || got["team1"].View.GetNote() != "call" || got["team2"].View.GetNote() != "call" {
		t.Errorf("equal views not shared: %+v / %+v", got["team1"], got["team2"])
	}
	for _, n := range []string{"public", "blocked"} {
		if got[n].Shared == got["team1"].Shared {
			t.Errorf("%s shares the team viewers' event", n)
		}
	}
	if got["public"].Shared == got["blocked"].Shared {
		t.Error("public and blocked share an event")
	}
	if v := got["public"].View; !v.GetVisible() || v.GetNote() != "" {
		t.Errorf("public got %v", v)
	}
	if v := got["blocked"].View; v.GetVisible() || v.GetState() != "" {
		t.Errorf("blocked got %v", v)
	}
	// What one consumer derives is what every sharer gets, and only
	// theirs.
	derive := func(n string) any {
		ev := got[n]
		return ev.Shared.Value("test", func() any { return n + ":" + ev.View.GetNote() })
	}
	if a, b := derive("team1"), derive("team2"); a != "team1:call" || b != a {
		t.Errorf("derived %v and %v, want team1:call twice", a, b)
	}
	if p := derive("public"); p != "public:" {
		t.Errorf("public derived %v", p)
	}
}

// A line batch shares equal line views the same way.
func TestHub_SharesEqualLineViews(t *testing.T) {
	h, system := startPlainHub(t)
	a, b, c := newChanSink(1), newChanSink(1), newChanSink(1)
	sa, sb, sc := h.OpenSink("a", a), h.OpenSink("b", b), h.OpenSink("c", c)
	full := func() *actorspb.LineView {
		return &actorspb.LineView{Number: "100", SeesState: true, State: "ringing", Calls: []*actorspb.CallView{{Direction: "in", Remote: "200"}}}
	}
	system.Root.Send(h.bound.Load().pid, &actorspb.LineBatch{Line: "100", Deliveries: []*actorspb.LineDelivery{
		{Session: sa.ID, View: full()}, {Session: sb.ID, View: full()},
		{Session: sc.ID, View: &actorspb.LineView{Number: "100", SeesState: true, State: "ringing", Calls: []*actorspb.CallView{{Direction: "in"}}}},
	}})
	ea, eb, ec := a.next(t), b.next(t), c.next(t)
	if ea.Shared == nil || ea.Shared != eb.Shared {
		t.Error("equal line views not shared")
	}
	if ec.Shared == ea.Shared || ec.Line.GetCalls()[0].GetRemote() != "" {
		t.Errorf("a view without the remote number shares the full one: %v", ec.Line)
	}
}

// presenceKey must hold every field of PresenceView: a field left out
// would let viewers who see the change differently share one encoding.
func TestViewSharing_KeyCoversEveryField(t *testing.T) {
	if n := (&actorspb.PresenceView{}).ProtoReflect().Descriptor().Fields().Len(); n != 4 {
		t.Fatalf("PresenceView has %d fields: add the new ones to presenceKey and to this test", n)
	}
	base := &actorspb.PresenceView{Visible: true, State: "busy", Note: "n", Idle: true}
	for name, other := range map[string]*actorspb.PresenceView{
		"visible": {State: "busy", Note: "n", Idle: true},
		"state":   {Visible: true, State: "away", Note: "n", Idle: true},
		"note":    {Visible: true, State: "busy", Idle: true},
		"idle":    {Visible: true, State: "busy", Note: "n"},
	} {
		var vs viewSharing
		_, s1 := vs.presence(base)
		_, s2 := vs.presence(other)
		if s1 == s2 {
			t.Errorf("views differing in %s share one event", name)
		}
	}
}

// A sink session whose sink is full is ended as lagged; one closed by its
// owner is ended once, not lagged.
func TestHub_SinkLagAndClose(t *testing.T) {
	h, system := startPlainHub(t)
	slow, done := newChanSink(1), newChanSink(1)
	ss, sd := h.OpenSink("slow", slow), h.OpenSink("done", done)
	for range 2 {
		system.Root.Send(h.bound.Load().pid, &actorspb.PresenceBatch{Target: "anna", Deliveries: []*actorspb.PresenceDelivery{
			{Session: ss.ID, View: &actorspb.PresenceView{Visible: true}}}})
	}
	select {
	case lagged := <-slow.ended:
		if !lagged || !ss.Lagged() {
			t.Errorf("slow session ended, lagged=%v/%v", lagged, ss.Lagged())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow session not ended")
	}
	h.Close(t.Context(), sd)
	if lagged := <-done.ended; lagged {
		t.Error("closed session ended as lagged")
	}
	h.Close(t.Context(), sd)
	select {
	case <-done.ended:
		t.Error("session ended twice")
	default:
	}
}

// Shared.Value is computed once however many consumers ask at once.
func TestShared_ValueOncePerKey(t *testing.T) {
	var s Shared
	var mu sync.Mutex
	calls := map[string]int{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			key := fmt.Sprint("k", i%2)
			s.Value(key, func() any {
				mu.Lock()
				defer mu.Unlock()
				calls[key]++
				return key
			})
		})
	}
	wg.Wait()
	if calls["k0"] != 1 || calls["k1"] != 1 {
		t.Errorf("derived %v, want once per key", calls)
	}
}
