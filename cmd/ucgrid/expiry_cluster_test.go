package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/sip/siptest"
)

// expiryBound is how long after its until a grant or membership may still
// count in these tests: the leader's sweep is timed at the until and the
// grains drop what they loaded then (the goal is a second or two); child
// processes under -race on a shared machine get a little room.
const expiryBound = 3 * time.Second

// waitEvent waits until the stream sends an event for which match holds,
// failing after within.
func (s *sseStream) waitEvent(t *testing.T, within time.Duration, what string, match func(event, data string) bool) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("%s: stream closed before %s", s.name, what)
			}
			if match(e[0], e[1]) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no %s within %v", s.name, what, within)
		}
	}
}

// presenceOf matches a presence event of user whose visibility is visible.
func presenceOf(user string, visible bool) func(event, data string) bool {
	return func(event, data string) bool {
		var p struct {
			User    string `json:"user"`
			Visible bool   `json:"visible"`
		}
		return event == "presence" && json.Unmarshal([]byte(data), &p) == nil && p.User == user && p.Visible == visible
	}
}

// TestCluster_ExpiringGrantAndMembershipEndEverywhereAtUntil: anna gives
// ben a grant through n1 that ends a few seconds later; ben watches her
// presence on n2 (event stream) and on n3 (SIP SUBSCRIBE). carl is a
// member of the call group desk until the same instant, dan for ever. At
// the until, with nobody touching anything, ben's stream says anna is no
// longer visible, his subscription is terminated (rejected), a call to the
// group rings dan and not carl, and carl's group rights are gone.
func TestCluster_ExpiringGrantAndMembershipEndEverywhereAtUntil(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	c, sipAddrs := startSIPCluster(t, 3)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	var index string // of the last write
	put := func(auth, path string, body map[string]any) {
		t.Helper()
		code, resp, idx := call(http.MethodPut, n1.http, path, auth, "", body)
		if code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, code, resp)
		}
		index = idx
	}
	put(adminAuth(), "/v1/global", map[string]any{"level": "blocked"})
	for _, u := range []struct{ id, line string }{{"anna", "201"}, {"ben", "202"}, {"carl", "203"}, {"dan", "204"}} {
		put(adminAuth(), "/v1/users/"+u.id, map[string]any{"display_name": u.id, "password": u.id + "-password"})
		put(adminAuth(), "/v1/lines/"+u.line, map[string]any{"owner": u.id, "kind": "primary", "sip_password": u.id + "-sip-secret"})
	}
	basic := func(user string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+user+"-password"))
	}
	// Six seconds: time to watch, subscribe and ring once before it ends.
	untilAt := time.Now().Add(6 * time.Second).Truncate(time.Second)
	until := untilAt.UTC().Format(time.RFC3339)
	put(basic("anna"), "/v1/users/anna/grants/ben", map[string]any{"level": "team", "until": until})
	put(adminAuth(), "/v1/groups/desk", map[string]any{"name": "Desk", "active": true, "member_level": "team",
		"members":    []map[string]any{{"user": "carl", "until": until}, {"user": "dan"}},
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "ring_all", "ring_timeout_s": 30}})

	stream := openStream(t, "ben on n2", n2.http, basic("ben"), "monitor=false&user=anna&index="+index)
	benPhone := siptest.NewUA(t, sipAddrs[n3.name], "ucgrid.local", "202", "ben-sip-secret")
	sub, res := benPhone.Subscribe("anna", "presence", 600)
	if res.StatusCode != 200 {
		t.Fatalf("ben's SUBSCRIBE to anna on n3 before the until: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "active" {
		t.Fatalf("first NOTIFY: %s", n.State)
	}
	phones := map[string]*siptest.UA{}
	for _, m := range []struct{ user, line string }{{"carl", "203"}, {"dan", "204"}} {
		phones[m.user] = siptest.NewUA(t, sipAddrs[n1.name], "ucgrid.local", m.line, m.user+"-sip-secret")
		if res := phones[m.user].Register(600); res.StatusCode != 200 {
			t.Fatalf("REGISTER %s: %v", m.user, res)
		}
	}
	caller := siptest.NewUA(t, sipAddrs[n2.name], "ucgrid.local", "201", "anna-sip-secret")
	rang := ringGroup(t, caller, phones, 3*time.Second)
	if !rang["carl"] || !rang["dan"] {
		t.Fatalf("before the until the group call rang %v, want carl and dan", rang)
	}
	if time.Now().After(untilAt) {
		t.Fatalf("the setup took past the until (%s): the test cannot tell before from after", until)
	}
	// The presence stream proves ben watches anna through the grant.
	put(basic("anna"), "/v1/users/anna/presence", map[string]any{"state": "busy"})
	stream.waitEvent(t, 3*time.Second, "anna busy", presenceOf("anna", true))

	// Nothing is touched now: the until alone ends it.
	bound := time.Until(untilAt) + expiryBound
	stream.waitEvent(t, bound, "anna no longer visible", presenceOf("anna", false))
	t.Logf("n2's stream: anna hidden %v after the until", time.Since(untilAt).Round(time.Millisecond))
	for {
		n := sub.Next(time.Until(untilAt.Add(expiryBound)))
		if n.State == "terminated" {
			if n.Reason != "rejected" {
				t.Errorf("terminating NOTIFY reason %q, want rejected", n.Reason)
			}
			t.Logf("n3's subscription: terminated %v after the until", time.Since(untilAt).Round(time.Millisecond))
			break
		}
	}
	rang = ringGroup(t, caller, phones, 3*time.Second)
	if rang["carl"] || !rang["dan"] {
		t.Errorf("after the until the group call rang %v, want dan alone", rang)
	}
	var x struct {
		Level   string              `json:"level"`
		Because map[string][]string `json:"because"`
	}
	code, body, _ := call(http.MethodGet, n3.http, "/v1/rights/carl/dan", adminAuth(), "", nil)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &x) != nil || x.Level != "blocked" {
		t.Errorf("carl over dan on n3 after the until: %d %s, want blocked (no group layer)", code, body)
	}
	if _, res := benPhone.Subscribe("anna", "presence", 600); res.StatusCode != 403 {
		t.Errorf("ben's SUBSCRIBE again after the until: %d, want 403", res.StatusCode)
	}
}

// ringGroup calls the group 700 and returns, once dan's phone rang and a
// short look for the others is over, who rang; then it cancels the call.
func ringGroup(t *testing.T, caller *siptest.UA, phones map[string]*siptest.UA, within time.Duration) map[string]bool {
	t.Helper()
	c := caller.Call("700")
	rang := map[string]bool{}
	deadline := time.After(within)
	var settle <-chan time.Time
	for {
		select {
		case r := <-phones["carl"].Incoming:
			rang["carl"] = r != nil
		case r := <-phones["dan"].Incoming:
			rang["dan"] = r != nil
			// ring_all: the others are offered in the same step; a short
			// bounded look for one that must (or must not) ring.
			settle = time.After(300 * time.Millisecond)
		case <-settle:
			c.Cancel()
			c.WaitStatus(487, 487, 5*time.Second)
			return rang
		case <-deadline:
			t.Fatalf("the group call rang %v within %v, not dan", rang, within)
		}
	}
}
