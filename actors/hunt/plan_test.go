package hunt

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

var (
	t0   = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	open = officehours.Result{Open: true}
)

func here(user string) Member { return Member{User: user, LoggedIn: true, Reachable: true} }

// rung lists the members of the plan's stages in ringing order.
func rung(p Plan) []string {
	var out []string
	for _, s := range p.Stages {
		out = append(out, s.Members...)
	}
	return out
}

func TestRingPlan_SkipsMembers(t *testing.T) {
	busy := here("busy")
	busy.Busy = true
	dnd := here("dnd")
	dnd.DND = true
	out := here("out")
	out.LoggedIn = false
	gone := here("gone")
	gone.Reachable = false
	members := []Member{here("anna"), busy, dnd, out, gone, here("zoe")}
	cases := []struct {
		name     string
		skipBusy bool
		want     []string
	}{
		{"busy members ring without skip_busy", false, []string{"anna", "busy", "zoe"}},
		{"busy members skipped with skip_busy", true, []string{"anna", "zoe"}},
	}
	for _, strategy := range []Strategy{RingAll, Sequential, RoundRobin, LongestIdle} {
		for _, tc := range cases {
			t.Run(strategy.String()+"/"+tc.name, func(t *testing.T) {
				g := Group{ID: "g", Strategy: strategy, SkipBusy: tc.skipBusy, Members: members}
				if got := rung(RingPlan(g, State{}, open, t0)); !slices.Equal(got, tc.want) {
					t.Errorf("rings %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestRingPlan_Timing(t *testing.T) {
	four := []Member{here("a"), here("b"), here("c"), here("d")}
	cases := []struct {
		name string
		g    Group
		want string // stages as members@delay+timeout
	}{
		{"ring_all rings everybody for the ring timeout",
			Group{RingTimeout: 25 * time.Second, MemberTimeout: 5 * time.Second, Members: four},
			"a,b,c,d@0s+25s"},
		{"ring_all defaults to a minute",
			Group{Members: four}, "a,b,c,d@0s+1m0s"},
		{"sequential rings each member for the member timeout",
			Group{Strategy: Sequential, RingTimeout: time.Minute, MemberTimeout: 10 * time.Second, Members: four},
			"a@0s+10s b@10s+10s c@20s+10s d@30s+10s"},
		{"sequential shortens the last member to the ring timeout",
			Group{Strategy: Sequential, RingTimeout: 25 * time.Second, MemberTimeout: 10 * time.Second, Members: four},
			"a@0s+10s b@10s+10s c@20s+5s"},
		{"sequential defaults to 15s a member and a minute in all",
			Group{Strategy: Sequential, Members: slices.Concat(four, []Member{here("e")})},
			"a@0s+15s b@15s+15s c@30s+15s d@45s+15s"},
		{"member timeout above ring timeout rings one member",
			Group{Strategy: LongestIdle, RingTimeout: 5 * time.Second, MemberTimeout: 10 * time.Second, Members: four},
			"a@0s+5s"},
		{"no members no stages", Group{Strategy: RoundRobin}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := RingPlan(tc.g, State{}, open, t0)
			var got []string
			for _, s := range p.Stages {
				got = append(got, strings.Join(s.Members, ",")+"@"+s.Delay.String()+"+"+s.Timeout.String())
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("stages %q, want %q", strings.Join(got, " "), tc.want)
			}
			checkPlan(t, tc.name, tc.g, p)
		})
	}
}

func TestRingPlan_Fallback(t *testing.T) {
	closed := officehours.Result{Reason: officehours.ReasonSchedule}
	cases := []struct {
		name   string
		g      Group
		hours  officehours.Result
		closed bool
		want   Fallback
	}{
		{"closed goes to the closed target", Group{ClosedTarget: "night", NoAnswerTarget: "vm"}, closed, true, Fallback{Target: "night"}},
		{"closed without closed target goes to the no-answer target", Group{NoAnswerTarget: "vm"}, closed, true, Fallback{Target: "vm"}},
		{"closed without targets rejects 480", Group{}, closed, true, Fallback{Status: 480}},
		{"open no answer goes to the no-answer target", Group{ClosedTarget: "night", NoAnswerTarget: "vm"}, open, false, Fallback{Target: "vm"}},
		{"open no answer without target rejects 480", Group{ClosedTarget: "night"}, open, false, Fallback{Status: 480}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.g.Members = []Member{here("anna")}
			p := RingPlan(tc.g, State{}, tc.hours, t0)
			if p.Closed != tc.closed || p.Fallback != tc.want {
				t.Errorf("closed=%v fallback %+v, want closed=%v %+v", p.Closed, p.Fallback, tc.closed, tc.want)
			}
			if tc.closed && (len(p.Stages) > 0 || len(p.Skipped) > 0) {
				t.Errorf("closed plan rings %+v, skips %+v", p.Stages, p.Skipped)
			}
		})
	}
}

func TestRingPlan_RoundRobinStartsAfterLastOffered(t *testing.T) {
	members := []Member{here("a"), here("b"), here("c"), here("d")}
	cases := []struct {
		name string
		last string
		want []string
	}{
		{"no history starts at the first", "", []string{"a", "b", "c", "d"}},
		{"after the second", "b", []string{"c", "d", "a", "b"}},
		{"after the last wraps", "d", []string{"a", "b", "c", "d"}},
		{"departed member starts over", "x", []string{"a", "b", "c", "d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := Group{Strategy: RoundRobin, RingTimeout: time.Minute, MemberTimeout: 10 * time.Second, Members: members}
			if got := rung(RingPlan(g, State{RoundRobinLast: tc.last}, open, t0)); !slices.Equal(got, tc.want) {
				t.Errorf("rings %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRingPlan_LongestIdleOrder(t *testing.T) {
	members := []Member{here("a"), here("b"), here("c"), here("d")}
	cases := []struct {
		name string
		last map[string]time.Time
		want []string
	}{
		{"never called keeps configured order", nil, []string{"a", "b", "c", "d"}},
		{"never called before called", map[string]time.Time{"a": t0.Add(-time.Hour)}, []string{"b", "c", "d", "a"}},
		{"oldest call first", map[string]time.Time{"a": t0.Add(-time.Minute), "b": t0.Add(-3 * time.Minute), "c": t0.Add(-2 * time.Minute), "d": t0.Add(-4 * time.Minute)},
			[]string{"d", "b", "c", "a"}},
		{"ties keep configured order", map[string]time.Time{"a": t0, "b": t0, "c": t0.Add(-time.Hour), "d": t0}, []string{"c", "a", "b", "d"}},
		{"future call ties with now", map[string]time.Time{"a": t0.Add(time.Hour), "b": t0, "c": t0.Add(-time.Second), "d": t0.Add(time.Minute)},
			[]string{"c", "a", "b", "d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := Group{Strategy: LongestIdle, RingTimeout: time.Minute, MemberTimeout: 10 * time.Second, Members: members}
			if got := rung(RingPlan(g, State{LastCall: tc.last}, open, t0)); !slices.Equal(got, tc.want) {
				t.Errorf("rings %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRingPlan_DuplicateListingRingsOnce(t *testing.T) {
	g := Group{Strategy: Sequential, Members: []Member{here("a"), here("b"), here("a")}}
	p := RingPlan(g, State{}, open, t0)
	if got := rung(p); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("rings %v, want [a b]", got)
	}
	if !slices.Contains(p.Skipped, Skip{User: "a", Reason: SkipDuplicate}) {
		t.Errorf("skipped %v, want a as duplicate", p.Skipped)
	}
}

func TestStep(t *testing.T) {
	at := t0.Add(time.Minute)
	cases := []struct {
		name     string
		ev       Event
		wantLast string
		wantCall map[string]time.Time
	}{
		{"offered moves the rotation only", Event{Kind: Offered, User: "b"}, "b", map[string]time.Time{"a": t0}},
		{"answered moves the rotation and stamps the call", Event{Kind: Answered, User: "b"}, "b", map[string]time.Time{"a": t0, "b": at}},
		{"ended stamps the end of the call", Event{Kind: Ended, User: "a"}, "a0", map[string]time.Time{"a": at}},
		{"event without user changes nothing", Event{Kind: Answered}, "a0", map[string]time.Time{"a": t0}},
		{"unknown kind changes nothing", Event{Kind: 99, User: "b"}, "a0", map[string]time.Time{"a": t0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := State{RoundRobinLast: "a0", LastCall: map[string]time.Time{"a": t0}}
			got := Step(before, tc.ev, at)
			if got.RoundRobinLast != tc.wantLast || !equalCalls(got.LastCall, tc.wantCall) {
				t.Errorf("got %+v, want last=%s calls=%v", got, tc.wantLast, tc.wantCall)
			}
			if len(before.LastCall) != 1 || !before.LastCall["a"].Equal(t0) {
				t.Errorf("Step changed the state passed in: %+v", before)
			}
		})
	}
}

func equalCalls(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

func TestPrune_ForgetsFormerMembers(t *testing.T) {
	g := Group{Members: []Member{here("a"), here("b")}}
	st := State{RoundRobinLast: "x", LastCall: map[string]time.Time{"a": t0, "x": t0}}
	got := Prune(st, g)
	if got.RoundRobinLast != "" || !equalCalls(got.LastCall, map[string]time.Time{"a": t0}) {
		t.Errorf("got %+v", got)
	}
	if len(st.LastCall) != 2 {
		t.Errorf("Prune changed the state passed in: %+v", st)
	}
	if got := Prune(State{RoundRobinLast: "b"}, g); got.RoundRobinLast != "b" {
		t.Errorf("kept member forgotten: %+v", got)
	}
}

func TestGroup_Validate(t *testing.T) {
	cases := []struct {
		name string
		g    Group
		want string
	}{
		{"zero group is valid", Group{ID: "g"}, ""},
		{"full group is valid", Group{ID: "g", Strategy: LongestIdle, RingTimeout: time.Minute, MemberTimeout: 20 * time.Second, Members: []Member{{User: "a"}, {User: "b"}}}, ""},
		{"unknown strategy", Group{ID: "g", Strategy: 9}, `hunt: group="g": strategy: unknown strategy 9`},
		{"negative ring timeout", Group{ID: "g", RingTimeout: -time.Second}, `hunt: group="g": ring_timeout: -1s out of range 0 (default) to 10m0s`},
		{"member timeout too long", Group{ID: "g", MemberTimeout: time.Hour}, `hunt: group="g": member_timeout: 1h0m0s out of range 0 (default) to 10m0s`},
		{"member without user", Group{ID: "g", Members: []Member{{User: "a"}, {}}}, `hunt: group="g": members[1]: user is empty`},
		{"member listed twice", Group{ID: "g", Members: []Member{{User: "a"}, {User: "b"}, {User: "a"}}}, `hunt: group="g": members[2]: user "a" already listed as members[0]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := tc.g.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseStrategy(t *testing.T) {
	cases := []struct {
		in   string
		want Strategy
		err  bool
	}{
		{"", RingAll, false},
		{"ring_all", RingAll, false},
		{"sequential", Sequential, false},
		{"round_robin", RoundRobin, false},
		{"longest_idle", LongestIdle, false},
		{"random", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseStrategy(tc.in)
			if got != tc.want || (err != nil) != tc.err {
				t.Errorf("ParseStrategy(%q) = %v, %v", tc.in, got, err)
			}
			if err == nil && tc.in != "" && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseEventKind(t *testing.T) {
	for _, k := range []EventKind{Offered, Answered, Ended} {
		if got, err := ParseEventKind(k.String()); err != nil || got != k {
			t.Errorf("ParseEventKind(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseEventKind("transferred"); err == nil {
		t.Error("ParseEventKind accepted transferred")
	}
}

// TestStrategy_OneValuePerDirectoryName: every strategy name the directory
// accepts (dirpb.Strategies) parses to a Strategy the plan knows, and back.
func TestStrategy_OneValuePerDirectoryName(t *testing.T) {
	if got, want := len(dirpb.Strategies), int(LongestIdle)+1; got != want {
		t.Fatalf("dirpb.Strategies has %d names, hunt knows %d strategies", got, want)
	}
	for _, name := range dirpb.Strategies {
		s, err := ParseStrategy(name)
		if err != nil || s.String() != name || s > LongestIdle {
			t.Errorf("ParseStrategy(%q) = %v, %v", name, s, err)
		}
	}
	_, err := ParseStrategy("random")
	if want := `hunt: unknown strategy "random" (want ring_all, sequential, round_robin or longest_idle)`; err == nil || err.Error() != want {
		t.Errorf("ParseStrategy(random) error = %v, want %s", err, want)
	}
}
