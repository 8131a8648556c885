package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestForwarding_ConditionalForwardsUnderTheLineRights(t *testing.T) {
	e := newEnv(t)
	e.routeOut()
	e.seedUser("tina", "")
	e.seedUser("vic", "")
	e.seedUser("walt", "")
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "sip_password": "line-secret"})

	var f forwardingJSON
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding",
		map[string]any{"unconditional": "+491711234", "busy": "300", "no_answer": "400", "no_answer_s": 20}).json(t, &f)
	want := forwardingJSON{Enabled: true, Destination: "+491711234", Unconditional: "+491711234", BusyEnabled: true, Busy: "300",
		NoAnswerEnabled: true, NoAnswer: "400", NoAnswerS: 20}
	if f != want {
		t.Errorf("PUT answered %+v, want %+v", f, want)
	}
	// Omitted keys stay; null and "" switch a forward off.
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"unconditional": nil, "busy": ""}).json(t, &f)
	if f.Enabled || f.Busy != "" || f.BusyEnabled || f.NoAnswer != "400" || f.NoAnswerS != 20 {
		t.Errorf("after switching unconditional and busy off: %+v", f)
	}
	// The original shape sets the unconditional forward alone.
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"enabled": true, "destination": "555"})
	stored, err := e.node.Store().Line("201")
	if err != nil {
		t.Fatal(err)
	}
	if fw := stored.GetForwarding(); !fw.Enabled || fw.Destination != "555" || fw.OnNoAnswer != "400" || stored.Ha1Md5 == "" {
		t.Errorf("stored line = %v, want unconditional 555, no answer 400 and the digests kept", stored)
	}

	// Rights: walt (public: line1_see_forwarding) sees which forwards are
	// on but no numbers and may not change them; vic, granted personal
	// (line1_set_forwarding), may set them and, with the trust right
	// line1_see_forwarding_number, sees the numbers.
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/walt", map[string]any{"level": "public"})
	e.must(http.StatusOK, as("walt"), "GET", "/v1/lines/201/forwarding", nil).json(t, &f)
	if !f.Enabled || !f.NoAnswerEnabled || f.BusyEnabled || f.Destination != "" || f.NoAnswer != "" || f.Unconditional != "" {
		t.Errorf("walt (public) sees %+v, want the flags without numbers", f)
	}
	e.must(http.StatusForbidden, as("walt"), "PUT", "/v1/lines/201/forwarding", map[string]any{"busy": "300"})
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "personal"})
	e.must(http.StatusOK, as("vic"), "PUT", "/v1/lines/201/forwarding", map[string]any{"busy": "300"}).json(t, &f)
	if !f.BusyEnabled || f.Busy != "" || f.Destination != "" {
		t.Errorf("vic (personal) sees %+v, want the flags without numbers", f)
	}
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"rights": map[string]any{
		"line1_set_forwarding": true, "line1_see_forwarding_number": true}})
	e.must(http.StatusOK, as("vic"), "GET", "/v1/lines/201/forwarding", nil).json(t, &f)
	if f.Busy != "300" || f.Destination != "555" || f.NoAnswer != "400" {
		t.Errorf("vic with line1_see_forwarding_number sees %+v, want the numbers", f)
	}
	e.must(http.StatusNotFound, as("walt"), "GET", "/v1/lines/999/forwarding", nil)

	// Bad input names the field and changes nothing.
	before, _ := e.node.Store().Line("201")
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"busy": "home"}, "busy"},
		{map[string]any{"no_answer": "123456789012345678901234567890123"}, "no_answer"},
		{map[string]any{"unconditional": "201"}, "unconditional"},
		{map[string]any{"no_answer_s": -1}, "no_answer_s"},
		{map[string]any{"no_answer_s": 601}, "no_answer_s"},
		{map[string]any{"unconditional": "300", "enabled": true}, "unconditional"},
		{map[string]any{}, "unconditional"},
		{map[string]any{"enabled": true}, "destination"},
		{map[string]any{"busy": 5}, "busy"},
	} {
		r := e.must(http.StatusBadRequest, as("tina"), "PUT", "/v1/lines/201/forwarding", tc.body)
		if !containsAll(string(r.body), tc.field) {
			t.Errorf("%v: error %s does not name %s", tc.body, r.body, tc.field)
		}
	}
	after, _ := e.node.Store().Line("201")
	if after.GetForwarding().String() != before.GetForwarding().String() {
		t.Errorf("bad input changed the forwarding: %v → %v", before.GetForwarding(), after.GetForwarding())
	}
}

// A PUT of the line (its password, from a form read before) does not
// undo a forwarding set meanwhile.
func TestForwarding_LinePutKeepsForwardingSetSince(t *testing.T) {
	e := newEnv(t)
	e.routeOut()
	e.seedUser("tina", "")
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "sip_password": "line-secret"})
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"busy": "300"})
	var l lineJSON
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "sip_password": "new-secret-1"}).json(t, &l)
	if l.Forwarding == nil || l.Forwarding.Busy != "300" {
		t.Errorf("line after password change = %+v, want busy forwarding kept", l.Forwarding)
	}
	if s, _ := e.node.Store().Line("201"); s.GetForwarding().GetOnBusy() != "300" {
		t.Errorf("stored forwarding = %v", s.GetForwarding())
	}
}

func TestAvailability_WhoMayLogMembersInAndOut(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"anna", "ben", "rita", "gus", "out"} {
		e.seedUser(u, "")
	}
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "sales", Name: "Sales", Active: true,
		Members:   []*dirpb.Member{{User: "anna", Role: "user"}, {User: "ben", Role: "user"}, {User: "rita", Role: "receptionist"}},
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all"}}}}})
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "other", Name: "Other",
		Members: []*dirpb.Member{{User: "gus", Role: "owner"}}}}}})
	path := "/v1/groups/sales/members/anna/availability"
	out := map[string]any{"logged_in": false}
	loggedOut := func(user string) bool {
		t.Helper()
		var g groupJSON
		e.must(http.StatusOK, as("admin"), "GET", "/v1/groups/sales", nil).json(t, &g)
		for _, m := range g.Members {
			if m.User == user {
				return m.LoggedOut
			}
		}
		t.Fatalf("%s not in sales", user)
		return false
	}
	for _, tc := range []struct {
		who  string
		want int
	}{
		{"ben", http.StatusForbidden}, // another plain member
		{"gus", http.StatusForbidden}, // owner of another group
		{"out", http.StatusForbidden}, // no role at all
		{"anna", http.StatusOK},       // herself
		{"rita", http.StatusOK},       // the group's receptionist
		{"admin", http.StatusOK},      // a system role
	} {
		e.must(tc.want, as(tc.who), "PUT", path, out)
	}
	e.must(http.StatusUnauthorized, anonymous, "PUT", path, out)
	if !loggedOut("anna") || loggedOut("ben") {
		t.Fatal("anna not logged out, or ben too")
	}
	// A group PUT (the group's form, without logged_out) keeps it.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/sales", map[string]any{"name": "Sales 2", "active": true,
		"members":    []map[string]any{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}, {"user": "rita", "role": "receptionist", "logged_out": false}},
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "ring_all"}})
	if !loggedOut("anna") {
		t.Error("a group PUT logged anna back in")
	}
	e.must(http.StatusOK, as("anna"), "PUT", path, map[string]any{"logged_in": true})
	if loggedOut("anna") {
		t.Error("anna still logged out after logging in")
	}
	// Bad input and non-members.
	e.must(http.StatusNotFound, as("admin"), "PUT", "/v1/groups/sales/members/gus/availability", out)
	e.must(http.StatusNotFound, as("gus"), "PUT", "/v1/groups/sales/members/gus/availability", out)
	e.must(http.StatusNotFound, as("admin"), "PUT", "/v1/groups/nope/members/anna/availability", out)
	for _, body := range []any{map[string]any{}, map[string]any{"logged_in": "no"}, map[string]any{"logged_in": true, "x": 1}} {
		e.must(http.StatusBadRequest, as("anna"), "PUT", path, body)
	}
}

// A member's logout shows in the monitor of their group's members and
// reaches their open event streams.
func TestAvailability_ShowsInMonitorAndOnEvents(t *testing.T) {
	e, _ := liveEnv(t)
	ev, r := e.stream(as("ben"), "")
	if r.status != http.StatusOK {
		t.Fatalf("open: %s", r)
	}
	ev.until("ready")
	e.must(http.StatusOK, as("anna"), "PUT", "/v1/groups/sales/members/anna/availability", map[string]any{"logged_in": false})
	// The fixture's own group writes may still reach the stream first as
	// an event with nobody logged out; anna's logout must follow.
	data := ev.until("group_availability")
	for data == `{"group":"sales","logged_out":[]}` {
		data = ev.until("group_availability")
	}
	if data != `{"group":"sales","logged_out":["anna"]}` {
		t.Errorf("group_availability event %s", data)
	}
	var m monitorJSON
	e.must(http.StatusOK, as("ben"), "GET", "/v1/monitor", nil).json(t, &m)
	if len(m.Groups) != 1 || len(m.Groups[0].LoggedOut) != 1 || m.Groups[0].LoggedOut[0] != "anna" {
		t.Errorf("monitor groups %+v, want anna logged out", m.Groups)
	}
	e.must(http.StatusOK, as("anna"), "PUT", "/v1/groups/sales/members/anna/availability", map[string]any{"logged_in": true})
	if data := ev.until("group_availability"); data != `{"group":"sales","logged_out":[]}` {
		t.Errorf("group_availability event after login %s", data)
	}
	ev.close()
}

// routeOut gives e a trunk with an outbound side and a dial plan that
// sends every number of two or more digits (with or without +) out
// through it at national class, so forwarding tests may name numbers
// beyond the directory.
func (e *env) routeOut() {
	e.t.Helper()
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier",
		Outbound: &dirpb.TrunkOutbound{Host: "192.0.2.10", MainNumber: "+4989123000"}}}}})
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutDialPlan{PutDialPlan: &dirpb.PutDialPlan{Plan: &dirpb.DialPlan{Rules: []*dirpb.DialRule{
		{Name: "e164", Pattern: "_+X.", Trunk: "carrier", CallClass: "national"},
		{Name: "any", Pattern: "_X.", Trunk: "carrier", CallClass: "national"},
	}}}}})
}

// A forwarding destination must be one the line's owner could dial: a
// directory number, or one the dial plan routes and their class allows.
func TestForwarding_DestinationTheOwnerCouldNotDialIs400(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "sip_password": "line-secret"})
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/lines/202", map[string]any{"owner": "tina", "kind": "secondary", "sip_password": "line-secret"})
	r := e.must(http.StatusBadRequest, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"busy": "0171234"})
	if !strings.Contains(string(r.body), "busy") || !strings.Contains(string(r.body), "neither a number") {
		t.Errorf("no route: %s", r.body)
	}
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier",
		Outbound: &dirpb.TrunkOutbound{Host: "192.0.2.10"}}}}})
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutDialPlan{PutDialPlan: &dirpb.PutDialPlan{Plan: &dirpb.DialPlan{Rules: []*dirpb.DialRule{
		{Name: "international", Pattern: "_00.", Trunk: "carrier", CallClass: "international"},
		{Name: "national", Pattern: "_0ZX.", Trunk: "carrier", CallClass: "national"},
	}}}}})
	r = e.must(http.StatusBadRequest, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"no_answer": "0044201234"})
	if !strings.Contains(string(r.body), "no_answer") || !strings.Contains(string(r.body), "international") {
		t.Errorf("class: %s", r.body)
	}
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"busy": "0171234", "no_answer": "202"})
	if l, _ := e.node.Store().Line("201"); l.GetForwarding().GetOnBusy() != "0171234" || l.GetForwarding().GetOnNoAnswer() != "202" {
		t.Errorf("stored forwarding %v", l.GetForwarding())
	}
}
