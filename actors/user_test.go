//go:build !race

// Built without -race only: a protoactor-go cluster node in this process
// trips the race detector inside the library (disthash reads its rendezvous
// table unlocked while a topology update replaces it; PITFALLS.md, upstream
// #1108). The Makefile runs these tests in its non-race pass.

package actors

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func ptr[T any](v T) *T { return &v }

func (n *testNode) setPresence(t *testing.T, actorID, target string, m *actorspb.SetPresence) *actorspb.SetPresenceReply {
	t.Helper()
	m.Actor = actorID
	resp, err := n.cn.Request(reqCtx(t), target, KindUser, m)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*actorspb.SetPresenceReply)
}

func (n *testNode) getPresence(t *testing.T, viewer, target string) *actorspb.GetPresenceReply {
	t.Helper()
	resp, err := n.cn.Request(reqCtx(t), target, KindUser, &actorspb.GetPresence{Viewer: viewer})
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*actorspb.GetPresenceReply)
}

// nextEvent returns the session's next event, failing after timeout.
func nextEvent(t *testing.T, s *Session, timeout time.Duration) Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events:
		if !ok {
			t.Fatalf("session %s closed (lagged=%v)", s.Viewer, s.Lagged())
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no event for %s within %v", s.Viewer, timeout)
		return Event{}
	}
}

// assertQuiet fails if the session holds an event. Callers first read an
// event that travelled in the same hub batch as any the session could have
// been sent, so this is an ordering check, not a timed wait.
func assertQuiet(t *testing.T, s *Session) {
	t.Helper()
	select {
	case ev := <-s.Events:
		t.Fatalf("%s got an unexpected event %v", s.Viewer, ev)
	default:
	}
}

func TestUserGrain_PresenceSetAndSeenByRights(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", true), putUser("ben", true), putUser("carl", true), putUser("dora", true),
		putGlobal("public"), putGrant("anna", "ben", "team"), putGrant("anna", "dora", "blocked"))

	// Others may not set anna's state; anna may.
	if r := n.setPresence(t, "ben", "anna", &actorspb.SetPresence{State: ptr("away")}); r.GetError().GetCode() != "forbidden" {
		t.Fatalf("ben set anna's state: %v", r)
	}
	if r := n.setPresence(t, "ben", "anna", &actorspb.SetPresence{Note: ptr("at lunch")}); r.GetError() != nil {
		t.Fatalf("ben (team, set_note) could not set the note: %v", r.GetError())
	}
	if r := n.setPresence(t, "anna", "anna", &actorspb.SetPresence{State: ptr("busy")}); r.GetError() != nil || r.GetView().GetState() != "busy" {
		t.Fatalf("anna setting her state: %v", r)
	}
	if r := n.setPresence(t, "anna", "anna", &actorspb.SetPresence{State: ptr("sleeping")}); r.GetError().GetCode() != "invalid" {
		t.Fatalf("unknown state accepted: %v", r)
	}

	tests := []struct {
		viewer  string
		visible bool
		note    string
	}{
		{"anna", true, "at lunch"},
		{"ben", true, "at lunch"}, // team: sees the note
		{"carl", true, ""},        // public: state only
		{"dora", true, ""},        // a blocked grant does not lower the public global
	}
	for _, tc := range tests {
		r := n.getPresence(t, tc.viewer, "anna")
		if v := r.GetView(); v.GetVisible() != tc.visible || v.GetNote() != tc.note || (tc.visible && v.GetState() != "busy") {
			t.Errorf("%s sees %v, want visible=%v note=%q", tc.viewer, v, tc.visible, tc.note)
		}
	}
	idx := n.apply(t, putGlobal("blocked"))
	resp, err := n.cn.Request(reqCtx(t), "anna", KindUser, &actorspb.GetPresence{Viewer: "carl", MinIndex: idx})
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.(*actorspb.GetPresenceReply).GetView(); v.GetVisible() {
		t.Errorf("carl still sees anna after the global level went to blocked: %v", v)
	}
	if r := n.getPresence(t, "anna", "nobody"); r.GetError().GetCode() != "not_found" {
		t.Errorf("presence of an unknown user: %v", r)
	}
}

func TestUserGrain_FanOutFilteredPerWatcherAndRevocationStopsEvents(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("ben", false), putUser("carl", false), putUser("dora", false),
		putGlobal("blocked"), putGrant("anna", "ben", "team"), putGrant("anna", "carl", "public"))

	watch := func(viewer string) (*Session, *actorspb.PresenceView) {
		s := n.hub.Open(viewer, 16)
		v, err := n.hub.Watch(reqCtx(t), s, "anna")
		if err != nil {
			t.Fatal(err)
		}
		return s, v
	}
	ben, _ := watch("ben")
	carl, _ := watch("carl")
	dora, v := watch("dora")
	if v.GetVisible() {
		t.Errorf("dora (blocked) sees anna on watch: %v", v)
	}

	n.setPresence(t, "anna", "anna", &actorspb.SetPresence{State: ptr("dnd"), Note: ptr("presenting")})
	if ev := nextEvent(t, ben, 5*time.Second); ev.Target != "anna" || ev.View.GetState() != "dnd" || ev.View.GetNote() != "presenting" {
		t.Errorf("ben got %v", ev)
	}
	if ev := nextEvent(t, carl, 5*time.Second); ev.View.GetState() != "dnd" || ev.View.GetNote() != "" {
		t.Errorf("carl (public) got %v: the note must not reach him", ev)
	}
	// A note-only change reaches ben, not carl; idle with the idle display
	// off reaches nobody.
	n.setPresence(t, "anna", "anna", &actorspb.SetPresence{Note: ptr("back at 3")})
	n.setPresence(t, "anna", "anna", &actorspb.SetPresence{Idle: ptr(true)})
	if ev := nextEvent(t, ben, 5*time.Second); ev.View.GetNote() != "back at 3" {
		t.Errorf("ben got %v", ev)
	}
	assertQuiet(t, carl)
	assertQuiet(t, ben)
	assertQuiet(t, dora)

	// Revoke ben's grant: he gets one "not visible" and nothing after.
	n.apply(t, deleteGrant("anna", "ben"))
	if ev := nextEvent(t, ben, 5*time.Second); ev.View.GetVisible() {
		t.Errorf("after revocation ben got %v, want not visible", ev)
	}
	n.setPresence(t, "anna", "anna", &actorspb.SetPresence{State: ptr("available")})
	if ev := nextEvent(t, carl, 5*time.Second); ev.View.GetState() != "available" {
		t.Errorf("carl got %v", ev)
	}
	// carl's event was sent in the same batch round as any for ben.
	assertQuiet(t, ben)

	// Granting again brings ben back.
	n.apply(t, putGrant("anna", "ben", "personal"))
	if ev := nextEvent(t, ben, 5*time.Second); !ev.View.GetVisible() || ev.View.GetState() != "available" {
		t.Errorf("after a new grant ben got %v", ev)
	}
}

func TestUserGrain_RightsCacheFollowsDirectory(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("ben", false), putGlobal("business"))
	check := func() rights.Set {
		resp, err := n.cn.Request(reqCtx(t), "anna", KindUser, &actorspb.CheckRights{Viewer: "ben"})
		if err != nil {
			t.Fatal(err)
		}
		return rights.Set(resp.(*actorspb.CheckRightsReply).GetSet())
	}
	if got := check(); got != rights.LevelSet(rights.Business) {
		t.Fatalf("ben over anna %s, want business", got)
	}
	n.apply(t, putGrant("anna", "ben", "personal"))
	// Without a consistency token the change feed reaches the grain
	// asynchronously: poll.
	deadline := time.Now().Add(5 * time.Second)
	for check() != rights.LevelSet(rights.Personal) {
		if time.Now().After(deadline) {
			t.Fatalf("cached rights still %s after the grant", check())
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	// With the token the very next read reflects the write.
	idx := n.apply(t, putGrant("anna", "ben", "public"))
	resp, err := n.cn.Request(reqCtx(t), "anna", KindUser, &actorspb.CheckRights{Viewer: "ben", MinIndex: idx})
	if err != nil {
		t.Fatal(err)
	}
	if got := rights.Set(resp.(*actorspb.CheckRightsReply).GetSet()); got != rights.LevelSet(rights.Business) {
		t.Errorf("with the token ben over anna is %s, want business (global)", got)
	}
	if n.deps.Count(KindUser) != 1 {
		t.Errorf("%d user grains active, want 1", n.deps.Count(KindUser))
	}
	if _, err := n.hub.Watch(reqCtx(t), n.hub.Open("ben", 1), "ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("watching an unknown user: %v", err)
	}
}

// A request carrying a consistency index must see the write it names even
// when the change feed has not reached the grain yet: freshFor drops the
// cached rights, not only the loaded directory slice. (Driven directly on
// the grain's state, without the actor system, so the feed cannot win the
// race.)
func TestUserGrain_FreshForDropsCachedRights(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("ben", false), putGlobal("blocked"), putGrant("anna", "ben", "personal"))
	g := &userGrain{grainBase: grainBase{deps: n.deps, id: "anna"}, watchers: watchers{}}
	if got := g.rightsOf("ben"); got != rights.LevelSet(rights.Personal) {
		t.Fatalf("ben over anna %s, want personal", got)
	}
	idx := n.apply(t, putGrant("anna", "ben", "public"))
	if e := g.prepare(idx); e != nil {
		t.Fatal(e)
	}
	if got := g.rightsOf("ben"); got != rights.LevelSet(rights.Public) {
		t.Errorf("after freshFor(%d) ben over anna is %s, want public", idx, got)
	}
	w := g.watchers.add(hubRef{"n", HubName}, "s1", "ben")
	if got := g.watcherRights(w); got != rights.LevelSet(rights.Public) {
		t.Errorf("watcher rights %s", got)
	}
	idx = n.apply(t, putGrant("anna", "ben", "team"))
	if e := g.prepare(idx); e != nil {
		t.Fatal(e)
	}
	if got := g.watcherRights(w); got != rights.LevelSet(rights.Team) {
		t.Errorf("watcher's cached rights survived freshFor: %s, want team", got)
	}
}

// Who may see a user, and whom a user may see, straight from the grains.
func TestUserGrain_AudienceAndReach(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putUser("ben", false), putUser("carl", false), putUser("dora", false),
		putGlobal("blocked"), putGrant("anna", "carl", "business"),
		&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "g", Active: true,
			Members: []*dirpb.Member{{User: "anna"}, {User: "ben"}}, MemberGrant: &dirpb.Grant{Level: "public"}}}}})
	ask := func(user string, m proto.Message) string {
		t.Helper()
		resp, err := n.cn.Request(reqCtx(t), user, KindUser, m)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*actorspb.UsersReply)
		if r.GetError() != nil {
			return r.GetError().GetCode()
		}
		if r.GetEveryone() {
			return "everyone"
		}
		return fmt.Sprint(r.GetUsers())
	}
	tests := []struct {
		user string
		msg  proto.Message
		want string
	}{
		{"anna", &actorspb.Audience{Right: "see_presence"}, "[anna ben carl]"},
		{"anna", &actorspb.Audience{Right: "see_line_state"}, "[anna carl]"},
		{"ben", &actorspb.Reach{Right: "see_presence"}, "[anna ben]"},
		{"carl", &actorspb.Reach{Right: "see_line_state"}, "[anna carl]"},
		{"dora", &actorspb.Reach{Right: "see_presence"}, "[dora]"},
		{"anna", &actorspb.Audience{Right: "see_everything"}, "invalid"},
		{"ghost", &actorspb.Reach{Right: "see_presence"}, "not_found"},
	}
	for _, tt := range tests {
		if got := ask(tt.user, tt.msg); got != tt.want {
			t.Errorf("%s %T %v: %s, want %s", tt.user, tt.msg, tt.msg, got, tt.want)
		}
	}
	idx := n.apply(t, putGlobal("public"))
	if got := ask("dora", &actorspb.Reach{Right: "see_presence", MinIndex: idx}); got != "everyone" {
		t.Errorf("with a public global layer dora reaches %s", got)
	}
}
