package api

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// A preset and a user grant with an until are shown with it, explain
// names the end of each contributing layer, and at that instant (the
// clock of handler and store moves, no sweep) they count no more.
func TestGrantUntil_ShownAndEndsAtUntil(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	e.seedUser("vic", "")
	until := "2026-03-02T10:00:00Z" // an hour after the env's clock
	var put grantJSON
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/admin/grants/tina/vic", map[string]any{"level": "team", "until": until}).json(t, &put)
	if put.Until == nil || *put.Until != until {
		t.Fatalf("PUT answered until %v, want %s", put.Until, until)
	}
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "personal", "until": "2026-03-02T09:30:00+00:00"})
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/admin", map[string]any{"level": "business", "until": nil})

	var list grantListJSON
	e.must(http.StatusOK, as("tina"), "GET", "/v1/users/tina/grants", nil).json(t, &list)
	untils := map[string]string{}
	for _, g := range append(list.Grants, list.Presets...) {
		if g.Until != nil {
			untils[g.Viewer+"/"+*g.Level] = *g.Until
		}
	}
	want := map[string]string{"vic/team": until, "vic/personal": "2026-03-02T09:30:00Z"}
	if len(untils) != 2 || untils["vic/team"] != want["vic/team"] || untils["vic/personal"] != want["vic/personal"] {
		t.Errorf("listed untils = %v, want %v (admin's endless grant without one)", untils, want)
	}
	var x explainJSON
	e.must(http.StatusOK, as("vic"), "GET", "/v1/rights/vic/tina", nil).json(t, &x)
	if x.Level != "personal" || x.Until["user"] != "2026-03-02T09:30:00Z" || x.Until["preset"] != until {
		t.Errorf("explain = %s until %v; want personal, user ending 09:30 and preset 10:00", x.Level, x.Until)
	}

	e.clock.Advance(30 * time.Minute) // 09:30: the user grant ends
	x = explainJSON{}
	e.must(http.StatusOK, as("vic"), "GET", "/v1/rights/vic/tina", nil).json(t, &x)
	if x.Level != "team" || len(x.Until) != 1 {
		t.Errorf("at 09:30 explain = %s until %v; want team from the preset alone", x.Level, x.Until)
	}
	e.clock.Advance(30 * time.Minute) // 10:00: the preset ends
	x = explainJSON{}
	e.must(http.StatusOK, as("vic"), "GET", "/v1/rights/vic/tina", nil).json(t, &x)
	if x.Level != "public" || len(x.Until) != 0 {
		t.Errorf("at 10:00 explain = %s until %v; want public", x.Level, x.Until)
	}
	e.must(http.StatusOK, as("tina"), "GET", "/v1/users/tina/grants", nil).json(t, &list)
	if len(list.Grants) != 1 || list.Grants[0].Viewer != "admin" || len(list.Presets) != 0 {
		t.Errorf("at 10:00 the list still shows ended grants: %+v", list)
	}
}

// A member and a deputy with an until are shown with it and leave the
// group at that instant: the group no longer lists them and the rights
// they held through it end.
func TestMemberUntil_ShownAndLeavesAtUntil(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"tina", "vic", "dora"} {
		e.seedUser(u, "")
	}
	until := "2026-03-02T12:00:00Z"
	body := map[string]any{"name": "Sales", "active": true, "member_level": "team", "leader_level": "personal",
		"members": []map[string]any{{"user": "tina"}, {"user": "vic", "until": until}},
		"deputy":  "dora", "deputy_until": "2026-03-02T11:00:00Z"}
	var g groupJSON
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", body).json(t, &g)
	if g.Members[1].Until == nil || *g.Members[1].Until != until || g.Members[0].Until != nil {
		t.Errorf("members answered with untils %v, %v; want none, %s", g.Members[0].Until, g.Members[1].Until, until)
	}
	if g.DeputyUntil == nil || *g.DeputyUntil != "2026-03-02T11:00:00Z" {
		t.Errorf("deputy_until = %v", g.DeputyUntil)
	}
	var x explainJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/rights/dora/tina", nil).json(t, &x)
	if x.Level != "personal" || x.Until["leader:sales"] != "2026-03-02T11:00:00Z" {
		t.Errorf("dora over tina = %s until %v; want personal until 11:00 (the deputyship)", x.Level, x.Until)
	}

	e.clock.Advance(3 * time.Hour) // 11:00 the deputy ends, 12:00 vic leaves
	g = groupJSON{}
	e.must(http.StatusOK, as("admin"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.Deputy != "" || len(g.Members) != 1 || g.Members[0].User != "tina" {
		t.Errorf("at 12:00 the group is deputy %q, members %+v; want none and tina alone", g.Deputy, g.Members)
	}
	for _, viewer := range []string{"vic", "dora"} {
		x = explainJSON{}
		e.must(http.StatusOK, as("admin"), "GET", "/v1/rights/"+viewer+"/tina", nil).json(t, &x)
		if x.Level != "public" || slices.Contains(x.Because["see_presence"], "group:sales") {
			t.Errorf("%s over tina at 12:00 = %s because %v; want public", viewer, x.Level, x.Because["see_presence"])
		}
	}
}
