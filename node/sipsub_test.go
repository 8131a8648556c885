//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/sip/siptest"
)

// startSIPNode is a whole node with its SIP server on a loopback port.
func startSIPNode(t *testing.T) *Node {
	return startServerWith(t, func(c *Config) { c.SIPAddr = "127.0.0.1:0" })
}

const subWait = 10 * time.Second

// subFixture: anna (line 100), ben (101), carl (102), dave (103), global
// level blocked; anna lets ben see her presence and line state only
// (no note, no caller identity) and gives carl team (note, callers).
func subFixture(t *testing.T) (s *Node, admin, anna client, phone func(number string) *siptest.UA) {
	s = startSIPNode(t)
	base := "http://" + s.HTTPAddr()
	admin = client{t, base, AdminID, "admin-secret"}
	for i, u := range []string{"anna", "ben", "carl", "dave"} {
		admin.must(http.StatusCreated, "PUT", "/v1/users/"+u, map[string]any{"display_name": u, "password": u + "-password"}, "")
		admin.must(http.StatusCreated, "PUT", "/v1/lines/10"+string(rune('0'+i)), map[string]any{"owner": u, "kind": "primary",
			"sip_password": u + "-sip-secret"}, "")
	}
	admin.must(http.StatusOK, "PUT", "/v1/global", map[string]any{"level": "blocked"}, "")
	anna = client{t, base, "anna", "anna-password"}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/ben", map[string]any{"rights": map[string]any{"see_presence": true, "see_line_state": true}}, "")
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/carl", map[string]any{"level": "team"}, "")
	owners := map[string]string{"100": "anna", "101": "ben", "102": "carl", "103": "dave"}
	phone = func(number string) *siptest.UA {
		return siptest.NewUA(t, s.SIPAddr(), defaultSIPDomain, number, owners[number]+"-sip-secret")
	}
	return s, admin, anna, phone
}

func pidf(t *testing.T, n *siptest.Notify) siptest.PIDF {
	t.Helper()
	if n.Type != "application/pidf+xml" {
		t.Fatalf("NOTIFY Content-Type %q", n.Type)
	}
	p, err := siptest.ParsePIDF(n.Body)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dialogInfo(t *testing.T, n *siptest.Notify) siptest.DialogInfo {
	t.Helper()
	if n.Type != "application/dialog-info+xml" {
		t.Fatalf("NOTIFY Content-Type %q", n.Type)
	}
	d, err := siptest.ParseDialogInfo(n.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// nextPresence skips NOTIFYs until one whose PIDF satisfies ok.
func nextPresence(t *testing.T, sub *siptest.Subscription, what string, ok func(siptest.PIDF) bool) siptest.PIDF {
	t.Helper()
	deadline := time.Now().Add(subWait)
	for {
		n := sub.Next(time.Until(deadline))
		if n.State != "active" {
			t.Fatalf("waiting for %s: NOTIFY %s;reason=%s", what, n.State, n.Reason)
		}
		if p := pidf(t, n); ok(p) {
			return p
		}
	}
}

// Presence subscriptions on a user id and on a line number: PIDF
// filtered by the subscriber's rights (the note only with see_note),
// a NOTIFY per change, 403 without see_presence, the subscription
// rejected when the right is revoked, un-SUBSCRIBE ends it.
func TestSIPSubscribe_PresenceFollowsRightsAndChanges(t *testing.T) {
	s, _, anna, phone := subFixture(t)
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "busy", "note": "customer call"}, "")
	ben, carl, dave := phone("101"), phone("102"), phone("103")

	bs, res := ben.Subscribe("anna", "presence", 600)
	if res.StatusCode != 200 || res.GetHeader("Expires") == nil || res.GetHeader("Expires").Value() != "600" {
		t.Fatalf("ben's SUBSCRIBE: %v", res)
	}
	n := bs.Next(subWait)
	if n.State != "active" || n.Expires <= 0 || n.Expires > 600 {
		t.Errorf("first NOTIFY Subscription-State %s expires=%d", n.State, n.Expires)
	}
	p := pidf(t, n)
	if p.Entity != "sip:anna@"+defaultSIPDomain || len(p.Tuples) != 1 || p.Tuples[0].Basic != "open" ||
		!slices.Equal(p.Activities(), []string{"busy"}) || len(p.AllNotes()) != 0 {
		t.Errorf("ben sees %+v (want open, busy, no note)\n%s", p, n.Body)
	}
	// carl subscribes on anna's line number: her presence, with the note.
	cs, res := carl.Subscribe("100", "presence", -1)
	if res.StatusCode != 200 || res.GetHeader("Expires").Value() != "3600" {
		t.Fatalf("carl's SUBSCRIBE: %v", res)
	}
	if p := pidf(t, cs.Next(subWait)); !slices.Equal(p.AllNotes(), []string{"customer call"}) || p.Entity != "sip:100@"+defaultSIPDomain {
		t.Errorf("carl sees notes %q entity %s", p.AllNotes(), p.Entity)
	}
	// dave (blocked) may not; unknown resources and events are refused.
	if _, res := dave.Subscribe("anna", "presence", 600); res.StatusCode != 403 {
		t.Errorf("dave's SUBSCRIBE: %d, want 403", res.StatusCode)
	}
	if _, res := dave.Subscribe("nobody", "presence", 600); res.StatusCode != 404 {
		t.Errorf("SUBSCRIBE to an unknown user: %d, want 404", res.StatusCode)
	}
	if _, res := dave.Subscribe("anna", "message-summary", 600); res.StatusCode != 489 || res.GetHeader("Allow-Events") == nil {
		t.Errorf("SUBSCRIBE to an unknown event: %v", res)
	}
	if _, res := ben.Subscribe("anna", "presence", 5); res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil {
		t.Errorf("SUBSCRIBE with a short Expires: %v", res)
	}

	// A change: each sees it as their rights allow.
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "away", "note": "lunch"}, "")
	if p := nextPresence(t, bs, "away", func(p siptest.PIDF) bool { return slices.Contains(p.Activities(), "away") }); len(p.AllNotes()) != 0 {
		t.Errorf("ben sees the note %q", p.AllNotes())
	}
	nextPresence(t, cs, "away with the note", func(p siptest.PIDF) bool {
		return slices.Contains(p.Activities(), "away") && slices.Equal(p.AllNotes(), []string{"lunch"})
	})
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "offline"}, "")
	nextPresence(t, bs, "offline", func(p siptest.PIDF) bool { return len(p.Tuples) == 1 && p.Tuples[0].Basic == "closed" })

	// Revoked: ben's subscription ends, rejected, without a body.
	anna.must(http.StatusNoContent, "DELETE", "/v1/users/anna/grants/ben", nil, "")
	// (NOTIFYs of changes before it may come first.)
	if n := nextNotify(t, bs, func(n *siptest.Notify) bool { return n.State != "active" }); n.State != "terminated" || n.Reason != "rejected" || len(n.Body) != 0 {
		t.Errorf("after the revocation: %s;reason=%s body %q", n.State, n.Reason, n.Body)
	}
	if res := bs.Refresh(600); res.StatusCode != 481 {
		t.Errorf("refreshing the rejected subscription: %d, want 481", res.StatusCode)
	}

	// Refresh, then un-SUBSCRIBE: a NOTIFY each, the last terminated.
	if res := cs.Refresh(120); res.StatusCode != 200 || res.GetHeader("Expires").Value() != "120" {
		t.Fatalf("refresh: %v", res)
	}
	// (carl's NOTIFY of anna going offline may come first.)
	if n := nextNotify(t, cs, func(n *siptest.Notify) bool { return n.State != "active" || n.Expires <= 120 }); n.State != "active" || n.Expires < 100 {
		t.Errorf("NOTIFY after the refresh: %s expires=%d", n.State, n.Expires)
	}
	if res := cs.Refresh(0); res.StatusCode != 200 {
		t.Fatalf("un-SUBSCRIBE: %v", res)
	}
	if n := nextNotify(t, cs, func(n *siptest.Notify) bool { return n.State != "active" }); n.State != "terminated" || n.Reason != "timeout" {
		t.Errorf("NOTIFY after un-SUBSCRIBE: %s;reason=%s", n.State, n.Reason)
	}
	waitSubs(t, s, 0)
}

// nextNotify skips NOTIFYs until one satisfies ok.
func nextNotify(t *testing.T, sub *siptest.Subscription, ok func(*siptest.Notify) bool) *siptest.Notify {
	t.Helper()
	deadline := time.Now().Add(subWait)
	for {
		if n := sub.Next(time.Until(deadline)); ok(n) {
			return n
		}
	}
}

func waitSubs(t *testing.T, s *Node, want int) {
	t.Helper()
	deadline := time.Now().Add(subWait)
	for s.sip.Subscriptions() != want {
		if time.Now().After(deadline) {
			t.Fatalf("node holds %d subscriptions, want %d", s.sip.Subscriptions(), want)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// nextDialogs skips NOTIFYs until a dialog-info document satisfies ok.
func nextDialogs(t *testing.T, sub *siptest.Subscription, what string, ok func(siptest.DialogInfo) bool) siptest.DialogInfo {
	t.Helper()
	deadline := time.Now().Add(subWait)
	for {
		n := sub.Next(time.Until(deadline))
		if n.State != "active" {
			t.Fatalf("waiting for %s: NOTIFY %s;reason=%s", what, n.State, n.Reason)
		}
		if d := dialogInfo(t, n); ok(d) {
			return d
		}
	}
}

// BLF: dialog subscriptions on a line number and on a user id (their
// primary line) see a call ring on the line (early), with the caller's
// identity only for the subscriber holding the incoming right, and the
// line idle again when the caller cancels; revoking see_line_state ends
// the subscription.
func TestSIPSubscribe_DialogShowsRingingCalls(t *testing.T) {
	s, _, anna, phone := subFixture(t)
	annaPhone, ben, carl, dave := phone("100"), phone("101"), phone("102"), phone("103")
	if res := annaPhone.Register(600); res.StatusCode != 200 {
		t.Fatalf("register: %v", res)
	}

	bs, res := ben.Subscribe("100", "dialog", 600)
	if res.StatusCode != 200 {
		t.Fatalf("ben's SUBSCRIBE: %v", res)
	}
	d := dialogInfo(t, bs.Next(subWait))
	if d.State != "full" || d.Entity != "sip:100@"+defaultSIPDomain || len(d.Dialogs) != 0 {
		t.Errorf("idle line: %+v", d)
	}
	cs, res := carl.Subscribe("anna", "dialog", 600)
	if res.StatusCode != 200 {
		t.Fatalf("carl's SUBSCRIBE: %v", res)
	}
	first := dialogInfo(t, cs.Next(subWait))
	if _, res := dave.Subscribe("100", "dialog", 600); res.StatusCode != 403 {
		t.Errorf("dave's SUBSCRIBE: %d, want 403", res.StatusCode)
	}

	call := dave.Call("100")
	ring := <-annaPhone.Incoming
	call.WaitStatus(180, 180, subWait)
	early := func(d siptest.DialogInfo) bool { return len(d.Dialogs) == 1 && d.Dialogs[0].State == "early" }
	bd := nextDialogs(t, bs, "ben: ringing", early)
	if dl := bd.Dialogs[0]; dl.Direction != "recipient" || dl.Remote.Identity != "" || dl.Local.Identity != "sip:100@"+defaultSIPDomain {
		t.Errorf("ben sees %+v (want recipient, no remote)", dl)
	}
	cd := nextDialogs(t, cs, "carl: ringing", early)
	if dl := cd.Dialogs[0]; dl.Remote.Identity != "sip:103@"+defaultSIPDomain {
		t.Errorf("carl sees remote %q, want dave's line", dl.Remote.Identity)
	}
	if cd.Version <= first.Version {
		t.Errorf("dialog-info version %d after %d", cd.Version, first.Version)
	}

	call.Cancel()
	select {
	case <-ring.Cancelled:
	case <-time.After(subWait):
		t.Fatal("anna's phone was not cancelled")
	}
	idle := func(d siptest.DialogInfo) bool { return len(d.Dialogs) == 0 }
	nextDialogs(t, bs, "ben: idle again", idle)
	nextDialogs(t, cs, "carl: idle again", idle)

	// anna takes ben's line-state right away: his BLF subscription ends.
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/ben", map[string]any{"rights": map[string]any{"see_presence": true}}, "")
	if n := nextNotify(t, bs, func(n *siptest.Notify) bool { return n.State != "active" }); n.State != "terminated" || n.Reason != "rejected" {
		t.Errorf("after the revocation: %s;reason=%s", n.State, n.Reason)
	}
	cs.Quiet(200 * time.Millisecond)
	waitSubs(t, s, 1)
}
