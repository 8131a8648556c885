package rights

import (
	"testing"
	"time"
)

func TestViewAppointment_ByGrade(t *testing.T) {
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	private := Appointment{Start: start, End: start.Add(time.Hour), Private: true, Subject: "doctor", Place: "clinic"}
	public := Appointment{Start: start, End: start.Add(time.Hour), Subject: "standup", Place: "room 4"}
	tests := []struct {
		level       Level
		seePrivate  bool
		privateText string
		seePublic   bool
	}{
		{Blocked, false, "", false},
		{Public, false, "", false},
		{Business, true, PrivateSubject, true},
		{Team, true, PrivateSubject, true},
		{Personal, true, "doctor", true},
	}
	for _, tc := range tests {
		t.Run(tc.level.String(), func(t *testing.T) {
			got, ok := ViewAppointment(LevelSet(tc.level), private)
			if ok != tc.seePrivate || got.Subject != tc.privateText {
				t.Errorf("private: %+v, %v", got, ok)
			}
			if ok && tc.privateText == PrivateSubject && got.Place != "" {
				t.Errorf("busy block leaks the place %q", got.Place)
			}
			if ok && (!got.Start.Equal(private.Start) || !got.End.Equal(private.End)) {
				t.Errorf("busy block lost its times: %+v", got)
			}
			got, ok = ViewAppointment(LevelSet(tc.level), public)
			if ok != tc.seePublic || (ok && got != public) {
				t.Errorf("public: %+v, %v", got, ok)
			}
		})
	}
}

func TestViewAVLine_ByGrade(t *testing.T) {
	tests := []struct {
		level      Level
		idle, busy AVDisplay
	}{
		{Blocked, AVHidden, AVHidden},
		{Public, AVAvailable, AVUnavailable},
		{Business, AVAvailable, AVUnavailable},
		{Team, AVAvailable, AVBusy},
		{Personal, AVAvailable, AVBusy},
	}
	for _, tc := range tests {
		t.Run(tc.level.String(), func(t *testing.T) {
			if got := ViewAVLine(LevelSet(tc.level), false); got != tc.idle {
				t.Errorf("idle shows %s, want %s", got, tc.idle)
			}
			if got := ViewAVLine(LevelSet(tc.level), true); got != tc.busy {
				t.Errorf("busy shows %s, want %s", got, tc.busy)
			}
		})
	}
}

func TestLineView_PrimaryAndSecondaryRights(t *testing.T) {
	team := LevelSet(Team)
	p, s := LineView(team, PrimaryLine), LineView(team, SecondaryLine)
	if !p.Pickup || s.Pickup {
		t.Errorf("team pickup: primary %v, secondary %v; want true, false", p.Pickup, s.Pickup)
	}
	if !p.SeeIncoming || !s.SeeIncoming || p.SeeOutgoing || p.SetForwarding {
		t.Errorf("team primary %+v", p)
	}
	b := LineView(LevelSet(Business), SecondaryLine)
	if b.SeeIncoming || !b.SeeState || !b.SeeForwarding {
		t.Errorf("business secondary %+v", b)
	}
	// Only the line's own group of rights counts.
	only2 := Set(0).With(Line2SeeOutgoing, 1).With(Line2SetForwarding, 1)
	if v := LineView(only2, PrimaryLine); v.SeeOutgoing || v.SetForwarding {
		t.Errorf("line2 rights leak into the primary line: %+v", v)
	}
	if v := LineView(only2, SecondaryLine); !v.SeeOutgoing || !v.SetForwarding {
		t.Errorf("line2 rights missing: %+v", v)
	}
	// Seeing the destination reveals that forwarding is on.
	if v := LineView(Set(0).With(Line1SeeForwardingNumber, 1), PrimaryLine); !v.SeeForwarding {
		t.Errorf("number without forwarding flag: %+v", v)
	}
}

func TestJournal_WhoMayReadAndModify(t *testing.T) {
	grp := func(active, leaderVis, groupVis, modifiable bool) *Group {
		return &Group{
			ID: "g", Active: active, Leader: "lea", Deputy: "dan",
			Members:              map[string]struct{}{"anna": {}, "ben": {}},
			JournalLeaderVisible: leaderVis, JournalGroupVisible: groupVis, JournalModifiable: modifiable,
		}
	}
	tests := []struct {
		name    string
		viewer  string
		private bool
		support bool
		group   *Group
		want    JournalAccess
	}{
		{"owner", "anna", false, false, grp(true, false, false, false), JournalAccess{true, true}},
		{"owner private", "anna", true, false, grp(true, false, false, false), JournalAccess{true, true}},
		{"member, no option", "ben", false, false, grp(true, true, false, true), JournalAccess{}},
		{"member, group visible", "ben", false, false, grp(true, false, true, false), JournalAccess{Read: true}},
		{"member, group visible and modifiable", "ben", false, false, grp(true, false, true, true), JournalAccess{true, true}},
		{"member, private entry", "ben", true, false, grp(true, true, true, true), JournalAccess{}},
		{"member, inactive group", "ben", false, false, grp(false, true, true, true), JournalAccess{}},
		{"leader, leader visible", "lea", false, false, grp(true, true, false, true), JournalAccess{Read: true}},
		{"deputy, leader visible", "dan", false, false, grp(true, true, false, false), JournalAccess{Read: true}},
		{"leader, only group visible", "lea", false, false, grp(true, false, true, true), JournalAccess{}},
		{"leader, private entry", "lea", true, false, grp(true, true, true, true), JournalAccess{}},
		{"leader, inactive", "lea", false, false, grp(false, true, false, false), JournalAccess{}},
		{"outsider", "zoe", false, false, grp(true, true, true, true), JournalAccess{}},
		{"support", "zoe", false, true, grp(true, false, false, false), JournalAccess{Read: true}},
		{"support, private entry", "zoe", true, true, grp(true, false, false, false), JournalAccess{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Journal(JournalQuery{Viewer: tc.viewer, Owner: "anna", Private: tc.private, Support: tc.support, Groups: []*Group{tc.group}})
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestServices_UnionOverActiveGroups(t *testing.T) {
	member := map[string]struct{}{"anna": {}}
	groups := []*Group{
		{ID: "on", Active: true, Members: member, Services: ServiceSet(0).With(Chat).With(SMS)},
		{ID: "off", Active: false, Members: member, Services: ServiceSet(0).With(RecordCalls)},
		{ID: "other", Active: true, Members: map[string]struct{}{"ben": {}}, Services: ServiceSet(0).With(Apps)},
	}
	e := Services("anna", ServiceSet(0).With(Chat), groups, ServiceSet(0).With(PhoneBooks))
	want := ServiceSet(0).With(Chat).With(SMS).With(PhoneBooks)
	if e.Set != want {
		t.Fatalf("services %v, want %v", e.Set.Names(), want.Names())
	}
	if got := e.Because[Chat]; len(got) != 2 || got[0].String() != "global" || got[1].String() != "group:on" {
		t.Errorf("chat because %v", got)
	}
	if got := e.Because[PhoneBooks]; len(got) != 1 || got[0].String() != "user" {
		t.Errorf("phone_books because %v", got)
	}
	if len(e.Because[RecordCalls]) != 0 || len(e.Because[Apps]) != 0 {
		t.Errorf("sources for services not given: %v %v", e.Because[RecordCalls], e.Because[Apps])
	}
}

func TestExplanation_BecauseMapShape(t *testing.T) {
	p := &Pair{Viewer: "b", Target: "a", Global: LevelGrant(Public)}
	m := Explain(p).BecauseMap()
	if len(m) != NumRights {
		t.Fatalf("%d rights in because map", len(m))
	}
	if got := m["see_presence"]; len(got) != 1 || got[0] != "global" {
		t.Errorf("see_presence because %v", got)
	}
	if got, ok := m["see_note"]; !ok || got == nil || len(got) != 0 {
		t.Errorf("see_note because %#v, want an empty list", got)
	}
}
