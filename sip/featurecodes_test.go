package sip

import (
	"context"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Presence is DND for the users in b.dnd, available for the others, as
// the owner sees it.
func (b *dirBackend) Presence(_ context.Context, _, target string, _ uint64) (presence.View, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dnd[target] {
		return presence.View{State: presence.DND}, true, nil
	}
	return presence.View{State: presence.Available}, true, nil
}

func (b *dirBackend) setDND(user string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dnd == nil {
		b.dnd = map[string]bool{}
	}
	b.dnd[user] = on
}

func (b *dirBackend) SetLineForwarding(ctx context.Context, number string, f linestate.Forwarding, set ...string) error {
	_, err := b.node.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{
		Number: number, Forwarding: dirrights.ForwardingRecord(f), Set: set}}})
	return err
}

func (b *dirBackend) SetMemberAvailability(ctx context.Context, user string, groups []string, loggedIn bool) error {
	_, err := b.node.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_SetMemberAvailability{SetMemberAvailability: &dirpb.SetMemberAvailability{
		User: user, Groups: groups, LoggedIn: loggedIn}}})
	return err
}

// dialCode dials a feature code and checks the final answer.
func dialCode(t *testing.T, p *phone, code string, status int, reason string) {
	t.Helper()
	res := p.call(code).wait(status, 5*time.Second)
	if reason != "" && res.Reason != reason {
		t.Errorf("%s: reason %q, want %q", code, res.Reason, reason)
	}
}

func TestParseFeatureCode(t *testing.T) {
	for _, tc := range []struct {
		dialled string
		ok      bool
		want    featureCode
	}{
		{"*21*0171234%23", true, featureCode{on: true, code: "21", arg: "0171234"}},
		{"*21*0171234", true, featureCode{on: true, code: "21", arg: "0171234"}},
		{"%2321%23", true, featureCode{code: "21"}},
		{"#67#", true, featureCode{code: "67"}},
		{"*61*+4930*20%23", true, featureCode{on: true, code: "61", arg: "+4930", secs: "20"}},
		{"*44%23", true, featureCode{on: true, code: "44"}},
		{"%2344*700%23", true, featureCode{code: "44", arg: "700"}},
		{"*21*ab%23", true, featureCode{on: true, code: "21", arg: "ab"}}, // refused later: 484
		{"*8", false, featureCode{}},                                      // pickup
		{"**2001", false, featureCode{}},                                  // directed pickup
		{"*99*1%23", false, featureCode{}},                                // no such code: routed as a number
		{"2001", false, featureCode{}},
		{"*21*1*2*3#", false, featureCode{}},
	} {
		got, ok := parseFeatureCode(tc.dialled)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseFeatureCode(%q) = %+v, %v; want %+v, %v", tc.dialled, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFeatureCodes_SetAndClearForwardingFromThePhone(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	carol := registered(t, e, "3001", "c-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier",
		Outbound: &dirpb.TrunkOutbound{Host: "127.0.0.1", Port: 9, MainNumber: "+4989123000"}}}}},
		&dirpb.Command{Op: &dirpb.Command_PutDialPlan{PutDialPlan: &dirpb.PutDialPlan{Plan: &dirpb.DialPlan{Rules: []*dirpb.DialRule{
			{Name: "international", Pattern: "_00.", Trunk: "carrier", CallClass: "international"},
			{Name: "national", Pattern: "_0ZX.", Trunk: "carrier", CallClass: "national"},
		}}}}})
	fwd := func() *dirpb.Forwarding {
		t.Helper()
		l, err := e.be.store().Line("2001")
		if err != nil {
			t.Fatal(err)
		}
		if l.Forwarding == nil {
			return &dirpb.Forwarding{}
		}
		return l.Forwarding
	}

	// Phones send # as %23; some send no trailing # at all.
	dialCode(t, bob, "*21*3001%23", 480, "Forwarding On 3001")
	if f := fwd(); !f.Enabled || f.Destination != "3001" {
		t.Fatalf("after *21*3001#: %v", f)
	}
	c := alice.call("2001")
	carol.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)
	dialCode(t, bob, "%2321%23", 480, "Forwarding Off")
	dialCode(t, bob, "*67*3001%23", 480, "Busy Forwarding On 3001")
	dialCode(t, bob, "*61*030123*25", 480, "No-Answer Forwarding On 030123")
	if f := fwd(); f.Enabled || f.OnBusy != "3001" || f.OnNoAnswer != "030123" || f.NoAnswerTimeoutS != 25 {
		t.Fatalf("after #21# *67*3001# *61*030123*25: %v", f)
	}
	dialCode(t, bob, "%2361%23", 480, "No-Answer Forwarding Off")
	dialCode(t, bob, "%2367%23", 480, "Busy Forwarding Off")
	if f := fwd(); f.Enabled || f.OnBusy != "" || f.OnNoAnswer != "" {
		t.Fatalf("after #61# #67#: %v", f)
	}
	dialCode(t, bob, "*67*3001%23", 480, "Busy Forwarding On 3001")

	// Bad input: a clear 484, nothing changed.
	before := fwd()
	for _, tc := range []struct{ code, reason string }{
		{"*21*12ab%23", "Bad Forwarding Number"},
		{"*21*123456789012345678901234567890123%23", "Bad Forwarding Number"},
		{"*21%23", "Forwarding Number Missing"},
		{"*67*2001%23", "Cannot Forward To Itself"},
		{"*61*3001*0%23", "Bad No-Answer Seconds"},
		{"*61*3001*9999%23", "Bad No-Answer Seconds"},
		{"*21*3001*5%23", "Seconds Only With *61"},
		{"%2367*3001%23", "No Number After #67"},
	} {
		dialCode(t, bob, tc.code, 484, tc.reason)
	}
	// A number bob could not dial himself (forwarding follows his class of
	// service, national by default) or that nothing routes: refused now.
	dialCode(t, bob, "*21*0044201234%23", 403, "Call Class International Required")
	dialCode(t, bob, "*21*5555%23", 404, "Forwarding Number Not Found")
	if f := fwd(); f.OnBusy != before.OnBusy || f.Enabled || f.OnNoAnswer != "" {
		t.Errorf("bad feature codes changed the forwarding: %v, was %v", f, before)
	}
	if n := len(carol.incoming) + len(alice.incoming); n != 0 {
		t.Errorf("a feature code rang %d phones", n)
	}
}

func TestDND_DirectCallBusyHereUnlessBusyForwarding(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	carol := registered(t, e, "3001", "c-pw")

	e.be.setDND("bob", true)
	// The reason phrase says busy, not DND: the caller may not see presence.
	alice.call("2001").wait(486, 5*time.Second)
	if res := alice.call("2001").wait(486, 5*time.Second); res.Reason != "Busy Here" {
		t.Errorf("reason %q, want Busy Here", res.Reason)
	}
	if len(bob.incoming) != 0 || slices.Contains(e.be.phases("2001"), linestate.PhaseRinging) {
		t.Error("bob's phone rang while DND")
	}

	dialCode(t, bob, "*67*3001%23", 480, "Busy Forwarding On 3001")
	c := alice.call("2001")
	carol.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)

	e.be.setDND("bob", false)
	c = alice.call("2001")
	bob.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)
}

func TestFeatureCodes_GroupLoginAndLogout(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("m1", "2101", "pw")
	e.user("m2", "2102", "pw")
	alice := registered(t, e, "1001", "a-pw")
	m1 := registered(t, e, "2101", "pw")
	m2 := registered(t, e, "2102", "pw")
	e.group("sales", "700", "ring_all", []string{"m1", "m2"}, nil)
	e.group("support", "701", "ring_all", []string{"m1", "m2"}, nil)
	e.group("other", "702", "ring_all", []string{"m2"}, nil)
	loggedOut := func(group, user string) bool {
		t.Helper()
		g, err := e.be.store().Group(group)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(g.Members, func(m *dirpb.Member) bool { return m.User == user })
		return g.Members[i].LoggedOut
	}

	dialCode(t, m1, "%2344*700%23", 480, "Logged Out Group 700")
	if !loggedOut("sales", "m1") || loggedOut("support", "m1") {
		t.Fatal("#44*700# did not log m1 out of sales alone")
	}
	// A call to the group now rings m2 only.
	c := alice.call("700")
	m2.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)
	if len(m1.incoming) != 0 || slices.Contains(e.be.phases("2101"), linestate.PhaseRinging) {
		t.Error("the group call rang m1 after they logged out")
	}

	dialCode(t, m1, "%2344%23", 480, "Logged Out All Groups")
	if !loggedOut("support", "m1") {
		t.Error("#44# did not log m1 out of support")
	}
	dialCode(t, m1, "*44*701%23", 480, "Logged In Group 701")
	if !loggedOut("sales", "m1") || loggedOut("support", "m1") {
		t.Error("*44*701# did not log m1 in to support alone")
	}
	dialCode(t, m1, "*44", 480, "Logged In All Groups")
	if loggedOut("sales", "m1") || loggedOut("support", "m1") {
		t.Error("*44# did not log m1 back in everywhere")
	}
	dialCode(t, m1, "%2344*799%23", 404, "No Group 799")
	dialCode(t, m1, "%2344*702%23", 403, "Not A Member Of Group 702")
	dialCode(t, alice, "*44%23", 404, "Not In Any Group")
	if loggedOut("other", "m2") || loggedOut("sales", "m1") {
		t.Error("a refused code changed a group")
	}
}

// The dialog-info body carries the forwarding as the view shows it, in an
// element of its own namespace that parses with the document.
func TestDialogInfo_ForwardingAsTheViewShowsIt(t *testing.T) {
	type fwd struct {
		Unconditional *struct {
			Target string `xml:"target,attr"`
		} `xml:"urn:ucgrid:xml:ns:forwarding unconditional"`
		Busy *struct {
			Target string `xml:"target,attr"`
		} `xml:"urn:ucgrid:xml:ns:forwarding busy"`
		NoAnswer *struct {
			Target  string `xml:"target,attr"`
			Seconds int    `xml:"seconds,attr"`
		} `xml:"urn:ucgrid:xml:ns:forwarding no-answer"`
	}
	type doc struct {
		Dialogs    []struct{} `xml:"urn:ietf:params:xml:ns:dialog-info dialog"`
		Forwarding *fwd       `xml:"urn:ucgrid:xml:ns:forwarding forwarding"`
	}
	parse := func(v *actorspb.LineView) doc {
		t.Helper()
		var d doc
		if err := xml.Unmarshal(dialogInfoBody("sip:100@"+testDomain, testDomain, 1, v), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	owner := &actorspb.LineView{Number: "100", SeesState: true, State: "busy", SeesForwarding: true,
		ForwardingOnBusy: true, ForwardingBusyDestination: "200", ForwardingOnNoAnswer: true,
		ForwardingNoAnswerDestination: "+4930123", ForwardingNoAnswerS: 20,
		Calls: []*actorspb.CallView{{Direction: "in", Answered: true}}}
	d := parse(owner)
	if len(d.Dialogs) != 1 || d.Forwarding == nil || d.Forwarding.Unconditional != nil || d.Forwarding.Busy == nil ||
		d.Forwarding.Busy.Target != "200" || d.Forwarding.NoAnswer.Target != "+4930123" || d.Forwarding.NoAnswer.Seconds != 20 {
		t.Errorf("owner's document: %+v", d)
	}
	public := &actorspb.LineView{Number: "100", SeesState: true, State: "idle", SeesForwarding: true, ForwardingEnabled: true}
	if d := parse(public); d.Forwarding == nil || d.Forwarding.Unconditional == nil || d.Forwarding.Unconditional.Target != "" {
		t.Errorf("public viewer's document: %+v", d.Forwarding)
	}
	hidden := &actorspb.LineView{Number: "100", SeesState: true, State: "idle", ForwardingEnabled: true}
	if d := parse(hidden); d.Forwarding != nil {
		t.Errorf("a view without see_forwarding shows %+v", d.Forwarding)
	}
}

// FuzzParseFeatureCode: any dialled string parses without panicking, and
// what it recognizes is one of the codes with plain arguments.
func FuzzParseFeatureCode(f *testing.F) {
	for _, s := range []string{"*21*0171%23", "%2344*700%23", "*61*1*20#", "#21#", "*8", "%", "%2", "*21*%0d%0a#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dialled string) {
		fc, ok := parseFeatureCode(dialled)
		if !ok {
			return
		}
		if !slices.Contains([]string{codeUnconditional, codeBusy, codeNoAnswer, codeGroups}, fc.code) ||
			strings.ContainsAny(fc.arg+fc.secs, "*#") {
			t.Fatalf("parseFeatureCode(%q) = %+v", dialled, fc)
		}
	})
}
