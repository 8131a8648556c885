package actors

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
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

// delivery is one session's view in a test batch.
type delivery struct {
	session string
	view    *actorspb.PresenceView
}

// sessionList encodes ids as a PresenceGroup's session list.
func sessionList(ids ...string) []byte {
	var b []byte
	for _, id := range ids {
		b = appendSessionID(b, id)
	}
	return b
}

// sessionIDs decodes a PresenceGroup's session list.
func sessionIDs(t *testing.T, list []byte) []string {
	t.Helper()
	var out []string
	for len(list) > 0 {
		id, rest, err := nextSessionID(list)
		if err != nil {
			t.Fatal(err)
		}
		out, list = append(out, string(id)), rest
	}
	return out
}

// presenceBatch makes a batch with one group per delivery (a sender
// that does not group: the hub must still share equal views).
func presenceBatch(target string, ds ...delivery) *actorspb.PresenceBatch {
	b := &actorspb.PresenceBatch{Target: target}
	for _, d := range ds {
		b.Groups = append(b.Groups, &actorspb.PresenceGroup{View: d.view, Sessions: sessionList(d.session)})
	}
	return b
}

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
	// Equal views in separate groups, each its own message.
	withNote := func() *actorspb.PresenceView {
		return &actorspb.PresenceView{Visible: true, State: "busy", Note: "call"}
	}
	system.Root.Send(h.bound.Load().pid, presenceBatch("anna",
		delivery{ids["team1"], withNote()},
		delivery{ids["public"], &actorspb.PresenceView{Visible: true, State: "busy"}},
		delivery{ids["team2"], withNote()},
		delivery{ids["blocked"], &actorspb.PresenceView{}},
	))
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
		system.Root.Send(h.bound.Load().pid, presenceBatch("anna", delivery{ss.ID, &actorspb.PresenceView{Visible: true}}))
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

// A change fanned out to viewers of different rights, sent over the
// wire as one deduplicated batch (each view listed once), reaches every
// session with exactly the view its viewer's rights give: a session with
// fewer rights never gets the richer view, a blocked one gets nothing,
// and a viewer demoted between two changes gets the poorer view from
// then on.
func TestHub_DedupedBatchKeepsEachSessionsView(t *testing.T) {
	h, system := startPlainHub(t)
	levels := []rights.Level{rights.Team, rights.Public, rights.Blocked}
	held := map[string]rights.Set{}
	ws := watchers{}
	here := hubRef{"here", HubName}
	sinks := map[string]*chanSink{} // by viewer
	for i := range 30 {
		viewer := fmt.Sprintf("v%d-%s", i, levels[i%3])
		held[viewer] = rights.LevelSet(levels[i%3])
		sinks[viewer] = newChanSink(4)
		s := h.OpenSink(viewer, sinks[viewer])
		ws.add(here, s.ID, viewer)
		ws.add(hubRef{"elsewhere", HubName}, "remote-"+s.ID, viewer)
	}
	rightsOf := func(w *watcher) rights.Set { return held[w.viewer] }
	send := func(p presence.Presence, wantViews int) {
		t.Helper()
		out := fanOut(ws, p, true, rightsOf)
		if n := len(out[here].GetGroups()); n != wantViews {
			t.Fatalf("batch lists %d views, want %d", n, wantViews)
		}
		wire, err := proto.Marshal(out[here])
		if err != nil {
			t.Fatal(err)
		}
		var b actorspb.PresenceBatch
		if err := proto.Unmarshal(wire, &b); err != nil {
			t.Fatal(err)
		}
		b.Target = "anna"
		system.Root.Send(h.bound.Load().pid, &b)
	}
	// Everyone but the blocked sees it: team with the note, public without.
	send(presence.Presence{State: presence.Busy, Note: "x"}, 2)
	for viewer, sink := range sinks {
		if strings.HasSuffix(viewer, "-"+rights.Blocked.String()) {
			continue
		}
		v := sink.next(t).View
		wantNote := ""
		if strings.HasSuffix(viewer, "-"+rights.Team.String()) {
			wantNote = "x"
		}
		if !v.GetVisible() || v.GetState() != "busy" || v.GetNote() != wantNote {
			t.Errorf("%s got %v, want busy with note %q", viewer, v, wantNote)
		}
	}
	// v0 (team) is demoted to public; the note changes: team viewers get
	// the new note, v0 the view without any note, public ones nothing.
	demoted := "v0-" + rights.Team.String()
	held[demoted] = rights.LevelSet(rights.Public)
	send(presence.Presence{State: presence.Busy, Note: "y"}, 2)
	for viewer, sink := range sinks {
		if !strings.HasSuffix(viewer, "-"+rights.Team.String()) {
			continue
		}
		v := sink.next(t).View
		if want := map[bool]string{true: "", false: "y"}[viewer == demoted]; v.GetNote() != want || !v.GetVisible() {
			t.Errorf("%s got %v, want busy with note %q", viewer, v, want)
		}
	}
	// Nothing else was sent: a marker batch is the next event everywhere
	// else.
	for viewer, sink := range sinks {
		if strings.HasSuffix(viewer, "-"+rights.Team.String()) {
			continue
		}
		var id string
		for s, w := range ws[here] {
			if w.viewer == viewer {
				id = s
			}
		}
		system.Root.Send(h.bound.Load().pid, presenceBatch("marker", delivery{id, &actorspb.PresenceView{}}))
		if ev := sink.next(t); ev.Target != "marker" {
			t.Errorf("%s got %v, want nothing but the marker", viewer, ev)
		}
	}
}

// A session list cut short or naming an empty session is refused where
// the fault is; what came before it is read.
func TestSessionList_Malformed(t *testing.T) {
	good := sessionList("a1", "b22")
	for name, tc := range map[string]struct {
		list []byte
		read int
	}{
		"cut in an id":     {good[:len(good)-1], 1},
		"cut in a length":  {append(sessionList("a1"), 0x80), 1},
		"length too large": {append(sessionList("a1"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 1},
		"empty id":         {append(sessionList("a1"), 0), 1},
		"well formed":      {good, 2},
	} {
		t.Run(name, func(t *testing.T) {
			read, list := 0, tc.list
			var err error
			for len(list) > 0 && err == nil {
				var id []byte
				if id, list, err = nextSessionID(list); err == nil {
					read++
					if len(id) == 0 {
						t.Fatal("empty id read")
					}
				}
			}
			if read != tc.read || (err != nil) != (name != "well formed") {
				t.Errorf("read %d ids, err %v; want %d ids", read, err, tc.read)
			}
		})
	}
}

// A hub given a malformed session list delivers up to the fault and
// goes on with the next batch.
func TestHub_MalformedSessionListDeliversUpToTheFault(t *testing.T) {
	h, system := startPlainHub(t)
	a, b := newChanSink(2), newChanSink(2)
	sa, sb := h.OpenSink("a", a), h.OpenSink("b", b)
	view := &actorspb.PresenceView{Visible: true, State: "busy"}
	bad := append(sessionList(sa.ID), 0x7f, 'x') // cut short
	system.Root.Send(h.bound.Load().pid, &actorspb.PresenceBatch{Target: "anna", Groups: []*actorspb.PresenceGroup{{View: view, Sessions: bad}}})
	system.Root.Send(h.bound.Load().pid, presenceBatch("ben", delivery{sa.ID, view}, delivery{sb.ID, view}))
	if ev := a.next(t); ev.Target != "anna" {
		t.Errorf("a got %v first, want anna's", ev)
	}
	if ev := a.next(t); ev.Target != "ben" {
		t.Errorf("a got %v second, want ben's", ev)
	}
	if ev := b.next(t); ev.Target != "ben" {
		t.Errorf("b got %v, want ben's only", ev)
	}
}
