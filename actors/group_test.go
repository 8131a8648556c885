//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putGroup(g *dirpb.Group) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}}
}

func (n *testNode) ringPlan(t *testing.T, group string) *actorspb.GetRingPlanReply {
	t.Helper()
	resp, err := n.cn.Request(reqCtx(t), group, KindGroup, &actorspb.GetRingPlan{MinIndex: n.dir.Applied()})
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*actorspb.GetRingPlanReply)
}

func (n *testNode) register(t *testing.T, line string) {
	t.Helper()
	resp, err := n.cn.Request(reqCtx(t), line, KindLine, &actorspb.RegisterLine{Put: []*actorspb.Binding{
		{Contact: "sip:" + line + "@192.0.2.1:5060", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}}})
	if err != nil || resp.(*actorspb.RegisterLineReply).GetError() != nil {
		t.Fatalf("register %s: %v %v", line, resp, err)
	}
}

// planString renders stages and skips compactly: "[anna ben] skip carl:dnd".
func planString(r *actorspb.GetRingPlanReply) string {
	s := ""
	for _, st := range r.GetStages() {
		s += fmt.Sprint(st.GetMembers())
	}
	for _, sk := range r.GetSkipped() {
		s += " skip " + sk.GetUser() + ":" + sk.GetReason()
	}
	if r.GetClosed() {
		s += " closed"
	}
	return s + fmt.Sprintf(" -> %q/%d", r.GetFallbackTarget(), r.GetFallbackStatus())
}

// The group grain takes each member's live state from their grains: DND
// presence, a busy primary line, no registered phone, logged out of group
// calls.
func TestGroupGrain_RingPlanUsesMembersLiveState(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putGlobal("public"))
	for i, u := range []string{"anna", "ben", "carl", "dan", "eve"} {
		n.apply(t, putUser(u, false))
		if u != "dan" {
			n.apply(t, putLine(fmt.Sprint(100+i), u, "primary", nil))
		}
	}
	members := []*dirpb.Member{{User: "anna"}, {User: "ben"}, {User: "carl"}, {User: "dan"}, {User: "eve"}}
	n.apply(t, putGroup(&dirpb.Group{Id: "sales", Active: true, Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all", SkipBusy: true, NoAnswerTarget: "199"}}))
	for _, l := range []string{"100", "101", "102", "104"} {
		n.register(t, l)
	}
	if got, want := planString(n.ringPlan(t, "sales")), `[anna ben carl eve] skip dan:unreachable -> "199"/0`; got != want {
		t.Fatalf("everyone available: %s, want %s", got, want)
	}
	// Where each member rings comes with the plan: the SIP layer forks
	// without asking the lines again.
	if got, want := targetsString(n.ringPlan(t, "sales")), `anna@100[sip:100@192.0.2.1:5060] ben@101[sip:101@192.0.2.1:5060] carl@102[sip:102@192.0.2.1:5060] eve@104[sip:104@192.0.2.1:5060]`; got != want {
		t.Fatalf("targets: %s, want %s", got, want)
	}
	n.setPresence(t, "ben", "ben", &actorspb.SetPresence{State: ptr("dnd")})
	n.lineCall(t, "102", "c1", "answered", "555")
	// Only SetMemberAvailability logs a member out: a group PUT keeps it.
	n.apply(t, &dirpb.Command{Op: &dirpb.Command_SetMemberAvailability{SetMemberAvailability: &dirpb.SetMemberAvailability{User: "eve"}}})
	if got, want := planString(n.ringPlan(t, "sales")), `[anna] skip ben:dnd skip carl:busy skip dan:unreachable skip eve:logged_out -> "199"/0`; got != want {
		t.Fatalf("with DND, busy and logged out: %s, want %s", got, want)
	}
	// Without skip_busy a busy member still rings (call waiting).
	n.apply(t, putGroup(&dirpb.Group{Id: "sales", Active: true, Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all"}}))
	r := n.ringPlan(t, "sales")
	if got, want := planString(r), `[anna carl] skip ben:dnd skip dan:unreachable skip eve:logged_out -> ""/480`; got != want {
		t.Fatalf("without skip_busy: %s, want %s", got, want)
	}
	if got, want := targetsString(r), `anna@100[sip:100@192.0.2.1:5060] carl@102[sip:102@192.0.2.1:5060]`; got != want {
		t.Fatalf("targets of the members rung only: %s, want %s", got, want)
	}
}

// targetsString renders a plan's targets: "anna@100[sip:…]".
func targetsString(r *actorspb.GetRingPlanReply) string {
	var out []string
	for _, tg := range r.GetTargets() {
		var cs []string
		for _, b := range tg.GetBindings() {
			cs = append(cs, b.GetContact())
		}
		out = append(out, tg.GetUser()+"@"+tg.GetLine()+fmt.Sprint(cs))
	}
	return strings.Join(out, " ")
}

// round_robin moves on with every offered call (its memory is also stored
// through the directory: huntmemory_test.go).
func TestGroupGrain_RoundRobinFollowsOfferedCalls(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putGlobal("public"))
	var members []*dirpb.Member
	for i, u := range []string{"anna", "ben", "carl"} {
		n.apply(t, putUser(u, false), putLine(fmt.Sprint(100+i), u, "primary", nil))
		n.register(t, fmt.Sprint(100+i))
		members = append(members, &dirpb.Member{User: u})
	}
	n.apply(t, putGroup(&dirpb.Group{Id: "desk", Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "round_robin", MemberTimeoutS: 10, RingTimeoutS: 30}}))
	first := func() string {
		t.Helper()
		r := n.ringPlan(t, "desk")
		if len(r.GetStages()) != 3 || r.GetStages()[1].GetDelayMs() != 10000 || r.GetStages()[2].GetTimeoutMs() != 10000 {
			t.Fatalf("round_robin plan %v", r)
		}
		return r.GetStages()[0].GetMembers()[0]
	}
	offer := func(user string) {
		t.Helper()
		resp, err := n.cn.Request(reqCtx(t), "desk", KindGroup, &actorspb.GroupCallEvent{Kind: "offered", User: user})
		if err != nil || resp.(*actorspb.GroupCallEventReply).GetError() != nil {
			t.Fatal(resp, err)
		}
	}
	var order []string
	for range 4 {
		u := first()
		order = append(order, u)
		offer(u)
	}
	if got := fmt.Sprint(order); got != "[anna ben carl anna]" {
		t.Errorf("round-robin firsts %s", got)
	}
	// Calls in a burst: the proxy's Offered reports come after its INVITEs
	// went out, later than the next call's plan may be asked for. Handing
	// out a plan counts as offering its first stage, so a burst still goes
	// round the members.
	order = order[:0]
	for range 3 {
		order = append(order, first())
	}
	if got := fmt.Sprint(order); got != "[ben carl anna]" {
		t.Errorf("plans asked back to back start with %s, want each with the next member", got)
	}
	// Several members offered in one message count in order.
	resp, err := n.cn.Request(reqCtx(t), "desk", KindGroup, &actorspb.GroupCallEvent{Kind: "offered", User: "ben", Users: []string{"carl"}})
	if err != nil || resp.(*actorspb.GroupCallEventReply).GetError() != nil {
		t.Fatal(resp, err)
	}
	if got := first(); got != "anna" {
		t.Errorf("after ben and carl were offered in one message, %s comes first, want anna", got)
	}
	resp, err = n.cn.Request(reqCtx(t), "desk", KindGroup, &actorspb.GroupCallEvent{Kind: "transferred", User: "anna"})
	if err != nil || resp.(*actorspb.GroupCallEventReply).GetError().GetCode() != "invalid" {
		t.Errorf("unknown event kind: %v %v", resp, err)
	}
}

func TestGroupGrain_OverrideAndRefusals(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	n.register(t, "100")
	g := &dirpb.Group{Id: "desk", Members: []*dirpb.Member{{User: "anna"}}, Override: "closed",
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", ClosedTarget: "800", NoAnswerTarget: "199"}}
	n.apply(t, putGroup(g))
	if got, want := planString(n.ringPlan(t, "desk")), ` closed -> "800"/0`; got != want {
		t.Errorf("closed by the receptionist: %s, want %s", got, want)
	}
	g.OverrideUntilUnix = time.Now().Add(-time.Minute).Unix()
	n.apply(t, putGroup(g))
	if got, want := planString(n.ringPlan(t, "desk")), `[anna] -> "199"/0`; got != want {
		t.Errorf("after the override expired: %s, want %s", got, want)
	}
	// Open only on the weekday three days from now (in the group's zone):
	// closed now, so the schedule decides, and the closed target wins over
	// the no-answer target.
	g.Override, g.OverrideUntilUnix = "", 0
	g.Timezone = "Europe/Berlin"
	openDay := time.Now().In(mustZone(t, "Europe/Berlin")).AddDate(0, 0, 3).Weekday()
	g.OfficeHours = &dirpb.OfficeHours{Days: []*dirpb.DayHours{{Weekday: int32(openDay), Open: []*dirpb.Interval{{FromMin: 8 * 60, ToMin: 17 * 60}}}}}
	n.apply(t, putGroup(g))
	if r := n.ringPlan(t, "desk"); !r.GetClosed() || r.GetFallbackTarget() != "800" {
		t.Errorf("outside office hours: %s (%s)", planString(r), r.GetReason())
	}
	if r := n.ringPlan(t, "ghost"); r.GetError().GetCode() != "not_found" {
		t.Errorf("plan of an unknown group: %v", r.GetError())
	}
	n.apply(t, putGroup(&dirpb.Group{Id: "nocalls", Members: []*dirpb.Member{{User: "anna"}}}))
	if r := n.ringPlan(t, "nocalls"); r.GetError().GetCode() != "not_found" {
		t.Errorf("plan of a group without call group: %v", r.GetError())
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A member whose line grain does not answer while it moves between nodes
// is still rung on the contacts the directory holds for the line, so a
// group call during a rolling restart rings instead of failing with 480.
// A line without contacts stays unreachable.
func TestGroupGrain_RingPlanFallsBackToDirectoryContactsWhenALineGrainDoesNotAnswer(t *testing.T) {
	n := startTestNode(t, "n1")
	n.apply(t, putGlobal("business"), putUser("anna", false), putUser("ben", false),
		putLine("100", "anna", "primary", nil), putLine("101", "ben", "primary", nil))
	n.register(t, "100")
	moving := &Deps{Store: n.deps.Store, Logger: n.deps.Logger,
		Request: func(ctx context.Context, id, kind string, msg proto.Message) (proto.Message, error) {
			if kind == KindLine {
				return nil, errors.New("no owner: the grain is moving")
			}
			return n.deps.Request(ctx, id, kind, msg)
		}}
	members := []*dirpb.Member{{User: "anna"}, {User: "ben"}}
	for name, deps := range map[string]*Deps{"grains answer": n.deps, "line grains moving": moving} {
		st, states := memberStatuses(deps, members, &actorspb.WatchMember{Group: "g", Watcher: &actorspb.Hub{Address: "nonhost", Id: "nobody"}})
		if name == "line grains moving" && slices.ContainsFunc(states, func(s *actorspb.MemberState) bool { return s.GetKind() == KindLine }) {
			t.Errorf("contacts from the directory are kept as a watched state: %v", states)
		}
		if a := st["anna"]; !a.reachable || a.line != "100" || len(a.bindings) != 1 || a.bindings[0].GetContact() != "sip:100@192.0.2.1:5060" {
			t.Errorf("%s: anna = %+v, want reachable on line 100 at its registered contact", name, a)
		}
		if b := st["ben"]; b.reachable {
			t.Errorf("%s: ben has no contact but is reachable: %+v", name, b)
		}
	}
}

// A disabled member is skipped like one with no registered phone, by
// every strategy, from the first plan after the directory applies the
// change (their bindings stay: re-enabled, they ring again at once).
func TestGroupGrain_DisabledMemberIsSkippedByEveryStrategy(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putGlobal("public"))
	for i, u := range []string{"anna", "ben"} {
		n.apply(t, putUser(u, false))
		n.apply(t, putLine(fmt.Sprint(100+i), u, "primary", nil))
		n.register(t, fmt.Sprint(100+i))
	}
	members := []*dirpb.Member{{User: "anna"}, {User: "ben"}}
	setDisabled := func(disabled bool) {
		n.apply(t, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "ben", DisplayName: "ben", Disabled: disabled}}}})
	}
	for i, strategy := range []string{"ring_all", "sequential", "round_robin", "longest_idle"} {
		t.Run(strategy, func(t *testing.T) {
			id := "g-" + strategy
			n.apply(t, putGroup(&dirpb.Group{Id: id, Active: true, Members: members,
				CallGroup: &dirpb.CallGroup{Mode: "sip", Number: fmt.Sprint(700 + i), Strategy: strategy, MemberTimeoutS: 5, RingTimeoutS: 30}}))
			setDisabled(true)
			r := n.ringPlan(t, id)
			if got := planString(r); !strings.Contains(got, "skip ben:unreachable") || strings.Contains(got, "ben]") || strings.Contains(got, "ben ") {
				t.Fatalf("ben disabled: %s, want ben skipped as unreachable", got)
			}
			if got, want := targetsString(r), `anna@100[sip:100@192.0.2.1:5060]`; got != want {
				t.Fatalf("targets with ben disabled: %s, want %s", got, want)
			}
			setDisabled(false)
			if got := targetsString(n.ringPlan(t, id)); !strings.Contains(got, "ben@101[sip:101@192.0.2.1:5060]") {
				t.Fatalf("targets with ben re-enabled: %s, want ben's binding", got)
			}
		})
	}
}

// countingRequests counts the grain requests of the node's grains by kind
// (the group grain's asks of its members go through Deps.Request).
// The copy's entries do not expire during the test: a slow machine must
// not turn an expiry into a counted ask.
func countingRequests(t *testing.T, n *testNode) *sync.Map {
	old := memberCacheMaxAge
	memberCacheMaxAge = time.Hour
	t.Cleanup(func() { memberCacheMaxAge = old })
	var counts sync.Map
	inner := n.deps.Request
	n.deps.Request = func(ctx context.Context, id, kind string, msg proto.Message) (proto.Message, error) {
		c, _ := counts.LoadOrStore(kind, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		return inner(ctx, id, kind, msg)
	}
	return &counts
}

func requestsOf(counts *sync.Map, kind string) int64 {
	if c, ok := counts.Load(kind); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// The group grain watches its members' user and line grains: after the
// first plan asked them, later plans ask nobody, and every change of a
// member (presence, an answered call, a new binding) shows in the next
// plan. A watched grain that stops is asked again.
func TestGroupGrain_WatchesMembersInsteadOfAskingOnEveryPlan(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putGlobal("public"))
	var members []*dirpb.Member
	for i, u := range []string{"anna", "ben"} {
		n.apply(t, putUser(u, false), putLine(fmt.Sprint(100+i), u, "primary", nil))
		members = append(members, &dirpb.Member{User: u})
	}
	n.register(t, "100")
	n.apply(t, putGroup(&dirpb.Group{Id: "desk", Active: true, Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all", SkipBusy: true}}))
	counts := countingRequests(t, n)
	plan := func(want string) {
		t.Helper()
		r := n.ringPlan(t, "desk")
		if got := planString(r) + " " + targetsString(r); got != want {
			t.Fatalf("plan %s, want %s", got, want)
		}
	}
	plan(`[anna] skip ben:unreachable -> ""/480 anna@100[sip:100@192.0.2.1:5060]`)
	asked := requestsOf(counts, KindUser) + requestsOf(counts, KindLine)
	if asked != 4 {
		t.Fatalf("first plan asked %d member grains, want 4 (2 users, 2 lines)", asked)
	}
	// The asks' answers reach the group's copy right after the first
	// reply: poll until a plan asks nobody.
	eventually(t, 5*time.Second, func() string {
		before := requestsOf(counts, KindUser) + requestsOf(counts, KindLine)
		plan(`[anna] skip ben:unreachable -> ""/480 anna@100[sip:100@192.0.2.1:5060]`)
		if after := requestsOf(counts, KindUser) + requestsOf(counts, KindLine); after != before {
			return fmt.Sprintf("a plan asked %d member grains", after-before)
		}
		return ""
	})
	before := requestsOf(counts, KindUser) + requestsOf(counts, KindLine)
	n.register(t, "101")
	plan(`[anna ben] -> ""/480 anna@100[sip:100@192.0.2.1:5060] ben@101[sip:101@192.0.2.1:5060]`)
	n.setPresence(t, "anna", "anna", &actorspb.SetPresence{State: ptr("dnd")})
	plan(`[ben] skip anna:dnd -> ""/480 ben@101[sip:101@192.0.2.1:5060]`)
	n.lineCall(t, "101", "c1", "answered", "555")
	plan(` skip anna:dnd skip ben:busy -> ""/480 `)
	n.lineCall(t, "101", "c1", "ended", "555")
	n.setPresence(t, "anna", "anna", &actorspb.SetPresence{State: ptr("available")})
	plan(`[anna ben] -> ""/480 anna@100[sip:100@192.0.2.1:5060] ben@101[sip:101@192.0.2.1:5060]`)
	if after := requestsOf(counts, KindUser) + requestsOf(counts, KindLine); after != before {
		t.Errorf("plans after changes asked %d member grains, want none: the changes were sent", after-before)
	}
	// The SIP layer asks without an index: the line a member rings on
	// then comes from their user grain, which sends it again when the
	// directory disables the user (or gives them back a line).
	setDisabled := func(disabled bool) {
		n.apply(t, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "ben", DisplayName: "ben", Disabled: disabled}}}})
	}
	planNow := func(want string) {
		t.Helper()
		eventually(t, 5*time.Second, func() string {
			resp, err := n.cn.Request(reqCtx(t), "desk", KindGroup, &actorspb.GetRingPlan{})
			if err != nil {
				return err.Error()
			}
			r := resp.(*actorspb.GetRingPlanReply)
			if got := planString(r) + " " + targetsString(r); got != want {
				return fmt.Sprintf("plan %s, want %s", got, want)
			}
			return ""
		})
	}
	setDisabled(true)
	planNow(`[anna] skip ben:unreachable -> ""/480 anna@100[sip:100@192.0.2.1:5060]`)
	setDisabled(false)
	planNow(`[anna ben] -> ""/480 anna@100[sip:100@192.0.2.1:5060] ben@101[sip:101@192.0.2.1:5060]`)
	if after := requestsOf(counts, KindUser) + requestsOf(counts, KindLine); after != before {
		t.Errorf("plans after a user was disabled and enabled asked %d member grains, want none", after-before)
	}
	// A line grain that stops says so; the next plan asks its successor.
	pid := n.deps.local.get(KindLine, "101")
	if pid == nil {
		t.Fatal("line 101 is not active here")
	}
	n.cn.Cluster().ActorSystem.Root.Poison(pid)
	eventually(t, 5*time.Second, func() string {
		if n.deps.local.get(KindLine, "101") != nil {
			return "line 101 still active"
		}
		return ""
	})
	plan(`[anna ben] -> ""/480 anna@100[sip:100@192.0.2.1:5060] ben@101[sip:101@192.0.2.1:5060]`)
	if got := requestsOf(counts, KindLine); got == 0 {
		t.Error("no line asked after a watched line grain stopped")
	}
}

// A topology change empties the group's copy: grains may have moved
// without a word.
func TestMemberCache_TopologyChangeOrGoneOrOtherActivationDropsEntries(t *testing.T) {
	var c memberCache
	now := time.Now()
	grain := &actorspb.Hub{Address: "n1", Id: "line/100"}
	c.sync(1)
	epoch := c.epoch
	c.fill(epoch, []*actorspb.MemberState{{Kind: KindLine, Id: "100", Grain: grain, Seq: 1, Busy: true}}, now)
	if s, ok := c.get(KindLine, "100", now); !ok || !s.GetBusy() {
		t.Fatalf("filled entry: %v %v", s, ok)
	}
	c.apply(&actorspb.MemberState{Kind: KindLine, Id: "100", Grain: grain, Seq: 3}, now)
	c.apply(&actorspb.MemberState{Kind: KindLine, Id: "100", Grain: grain, Seq: 2, Busy: true}, now) // late
	if s, _ := c.get(KindLine, "100", now); s.GetBusy() {
		t.Error("an older state replaced a newer one")
	}
	if _, ok := c.get(KindLine, "100", now.Add(memberCacheMaxAge+time.Second)); ok {
		t.Error("an entry older than memberCacheMaxAge is trusted")
	}
	c.apply(&actorspb.MemberState{Kind: KindLine, Id: "100", Grain: &actorspb.Hub{Address: "n2", Id: "line/100"}, Seq: 9}, now)
	if _, ok := c.get(KindLine, "100", now); ok {
		t.Error("a state from another activation kept the entry")
	}
	c.fill(epoch, []*actorspb.MemberState{{Kind: KindLine, Id: "100", Grain: grain, Seq: 4}}, now)
	c.apply(&actorspb.MemberState{Kind: KindLine, Id: "100", Grain: grain, Seq: 5, Gone: true}, now)
	if _, ok := c.get(KindLine, "100", now); ok {
		t.Error("gone kept the entry")
	}
	c.fill(epoch, []*actorspb.MemberState{{Kind: KindLine, Id: "100", Grain: grain, Seq: 6}}, now)
	c.sync(2)
	if _, ok := c.get(KindLine, "100", now); ok {
		t.Error("a topology change kept the entry")
	}
	c.fill(epoch, []*actorspb.MemberState{{Kind: KindLine, Id: "100", Grain: grain, Seq: 7}}, now)
	if _, ok := c.get(KindLine, "100", now); ok {
		t.Error("an ask started before the topology change filled the cache after it")
	}
}
