//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"net/http"
	"testing"
)

// End to end on one node (real grains, actors.Client writing through the
// directory): a phone's feature codes change its line's forwarding and
// its owner's group login, DND answers direct calls 486 unless busy
// forwarding takes them, and a logged-out member is not rung by a group
// call.
func TestServer_FeatureCodesDNDAndGroupLogin(t *testing.T) {
	_, admin, anna, phone := subFixture(t)
	admin.must(http.StatusCreated, "PUT", "/v1/groups/desk", map[string]any{"name": "Desk", "active": true,
		"members":    []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}},
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "ring_all"}}, "")
	annaPhone, benPhone, davePhone := phone("100"), phone("101"), phone("103")
	if res := annaPhone.Register(600); res.StatusCode != 200 {
		t.Fatalf("anna registers: %v", res)
	}
	if res := benPhone.Register(600); res.StatusCode != 200 {
		t.Fatalf("ben registers: %v", res)
	}
	code := func(dialled string, status int, reason string) {
		t.Helper()
		res := annaPhone.Call(dialled).WaitStatus(200, 699, subWait)
		if res.StatusCode != status || res.Reason != reason {
			t.Fatalf("%s: %d %s, want %d %s", dialled, res.StatusCode, res.Reason, status, reason)
		}
	}

	// Busy forwarding from the phone; DND then sends direct calls there.
	code("*67*101%23", 480, "Busy Forwarding On 101")
	if out, _ := anna.must(http.StatusOK, "GET", "/v1/lines/100/forwarding", nil, ""); out["busy"] != "101" {
		t.Fatalf("forwarding after *67*101#: %v", out)
	}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "dnd"}, "")
	call := davePhone.Call("100")
	r := <-benPhone.Incoming
	r.Answer(200)
	call.WaitStatus(200, 200, subWait)
	code("%2367%23", 480, "Busy Forwarding Off")
	if res := davePhone.Call("100").WaitStatus(400, 699, subWait); res.StatusCode != 486 {
		t.Fatalf("a direct call to anna in DND: %d %s, want 486", res.StatusCode, res.Reason)
	}
	if len(annaPhone.Incoming) != 0 {
		t.Fatal("anna's phone rang while she was DND")
	}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "available"}, "")

	// Logged out of the group by phone: the group call rings ben only.
	code("%2344*700%23", 480, "Logged Out Group 700")
	call = davePhone.Call("700")
	r = <-benPhone.Incoming
	r.Answer(200)
	call.WaitStatus(200, 200, subWait)
	// ring_all forks to every member at once: anna's INVITE would have
	// gone out with ben's, before ben answered.
	if len(annaPhone.Incoming) != 0 {
		t.Fatal("the group call rang anna after she logged out")
	}
	if g, _ := admin.must(http.StatusOK, "GET", "/v1/groups/desk", nil, ""); !loggedOutIn(g, "anna") {
		t.Fatalf("group after #44*700#: %v", g)
	}
	code("*44%23", 480, "Logged In All Groups")
	code("*21*12ab%23", 484, "Bad Forwarding Number")
	if out, _ := anna.must(http.StatusOK, "GET", "/v1/lines/100/forwarding", nil, ""); out["enabled"] != false || out["busy"] != "" {
		t.Fatalf("forwarding after a bad code: %v", out)
	}
}

// loggedOutIn reports whether a group's JSON shows user logged out.
func loggedOutIn(g map[string]any, user string) bool {
	ms, _ := g["members"].([]any)
	for _, m := range ms {
		if mm, _ := m.(map[string]any); mm["user"] == user {
			return mm["logged_out"] == true
		}
	}
	return false
}
