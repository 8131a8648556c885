package api

import (
	"net/http"
	"strings"
	"testing"
)

// A member's ring delay is stored and read back, bounded by the group's
// ring timeout (400 naming members[i].ring_delay_s), and changing it is
// call handling: a manager may add members but not delay their ringing.
func TestGroups_MemberRingDelay(t *testing.T) {
	e := newEnv(t)
	e.seedUser("sec", "")
	e.seedUser("boss", "")
	e.seedUser("mia", "")
	group := func(bossDelay, ringTimeout int, extra ...map[string]any) map[string]any {
		members := []map[string]any{
			{"user": "sec", "role": "user"},
			{"user": "boss", "role": "user", "ring_delay_s": bossDelay},
			{"user": "mia", "role": "manager"},
		}
		return map[string]any{"name": "Office", "active": true, "members": append(members, extra...),
			"call_group": map[string]any{"mode": "sip", "number": "710", "strategy": "ring_all", "ring_timeout_s": ringTimeout}}
	}
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/office", group(10, 30))
	var g groupJSON
	e.must(http.StatusOK, as("sec"), "GET", "/v1/groups/office", nil).json(t, &g)
	if len(g.Members) != 3 || g.Members[0].RingDelayS != 0 || g.Members[1].RingDelayS != 10 {
		t.Fatalf("members read back %+v, want the boss delayed 10 s", g.Members)
	}

	for _, tc := range []struct {
		name            string
		delay, ringTime int
	}{
		{"negative", -1, 30},
		{"beyond the ring timeout", 31, 30},
		{"beyond the default ring timeout", 61, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(as("admin"), "PUT", "/v1/groups/office", group(tc.delay, tc.ringTime))
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "members[1].ring_delay_s") {
				t.Errorf("got %s, want 400 naming members[1].ring_delay_s", r)
			}
		})
	}
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/office", group(60, 0)) // the default ring timeout: 60 s

	// A manager manages members but does not configure call handling.
	r := e.do(as("mia"), "PUT", "/v1/groups/office", group(5, 0))
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "ring_delay_s") {
		t.Errorf("manager changing a ring delay: got %s, want 403 naming ring_delay_s", r)
	}
}
