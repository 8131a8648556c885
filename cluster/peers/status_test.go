package peers

import (
	"encoding/json"
	"testing"

	"github.com/ucgrid/ucgrid/cluster/autopilot"
	"github.com/ucgrid/ucgrid/cluster/membership"
)

// TestSitesOf: the status groups the members by site, with their Raft
// roles and how many are alive; nodes without --site are the site "".
func TestSitesOf(t *testing.T) {
	ms := []MemberStatus{
		{Node: "n4", Site: "hamburg", State: "alive", RaftRole: "non_voter"},
		{Node: "n1", Site: "munich", State: "alive", RaftRole: "voter"},
		{Node: "n3", Site: "hamburg", State: "failed", RaftRole: "voter"},
		{Node: "n2", Site: "munich", State: "joining", RaftRole: "none"},
		{Node: "n5", State: "alive", RaftRole: "voter"},
	}
	raw, err := json.Marshal(sitesOf(ms))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"site":"","members":["n5"],"alive":1,"voters":["n5"],"non_voters":[]},` +
		`{"site":"hamburg","members":["n3","n4"],"alive":1,"voters":["n3"],"non_voters":["n4"]},` +
		`{"site":"munich","members":["n1","n2"],"alive":1,"voters":["n1"],"non_voters":[]}]`
	if string(raw) != want {
		t.Errorf("sites\n got %s\nwant %s", raw, want)
	}
	if raw, _ := json.Marshal(sitesOf(nil)); string(raw) != "[]" {
		t.Errorf("no members: %s, want []", raw)
	}
}

// TestPilotMembers_CarrySite: the autopilot sees each member's site.
func TestPilotMembers_CarrySite(t *testing.T) {
	got := pilotMembers([]membership.Member{{Name: "n1", State: membership.StateAlive,
		Meta: membership.Meta{RaftAddr: "127.0.0.1:1", Site: "munich"}}})
	if len(got) != 1 || got[0].Site != "munich" || got[0].Health != autopilot.Alive {
		t.Fatalf("pilot members %+v", got)
	}
}
