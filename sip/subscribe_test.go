package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"sync"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/sip/siptest"
)

// fakeHub is a Hub in memory: the tests set what a watcher sees and push
// changes; the node tests (node) use the real hub.
type fakeHub struct {
	mu       sync.Mutex
	presence map[string]*actorspb.PresenceView // by user
	lines    map[string]*actorspb.LineView     // by number
	sessions map[string]*fakeSession
	opened   int
}

type fakeSession struct {
	ch     chan actors.Event
	target string
	closed bool
}

func newFakeHub() *fakeHub {
	return &fakeHub{presence: map[string]*actorspb.PresenceView{}, lines: map[string]*actorspb.LineView{},
		sessions: map[string]*fakeSession{}}
}

func (h *fakeHub) Open(viewer string, buffer int) *actors.Session {
	var b [8]byte
	_, _ = rand.Read(b[:])
	ch := make(chan actors.Event, buffer)
	s := &actors.Session{ID: hex.EncodeToString(b[:]), Viewer: viewer, Events: ch}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[s.ID] = &fakeSession{ch: ch}
	h.opened++
	return s
}

func (h *fakeHub) Watch(_ context.Context, s *actors.Session, user string) (*actorspb.PresenceView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.presence[user]
	if !ok {
		return nil, &actors.GrainError{Code: actors.CodeNotFound, Message: "no such user"}
	}
	h.sessions[s.ID].target = user
	return v, nil
}

func (h *fakeHub) WatchLine(_ context.Context, s *actors.Session, number string) (*actorspb.LineView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.lines[number]
	if !ok {
		return nil, &actors.GrainError{Code: actors.CodeNotFound, Message: "no such line"}
	}
	h.sessions[s.ID].target = number
	return v, nil
}

func (h *fakeHub) Close(_ context.Context, s *actors.Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fs := h.sessions[s.ID]; fs != nil {
		h.end(fs)
		delete(h.sessions, s.ID)
	}
}

func (h *fakeHub) end(fs *fakeSession) {
	if !fs.closed {
		fs.closed = true
		close(fs.ch)
	}
}

// push sends ev to every session watching its target.
func (h *fakeHub) push(ev actors.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fs := range h.sessions {
		if fs.target == ev.Target && !fs.closed {
			select {
			case fs.ch <- ev:
			default:
				h.end(fs) // lagged
			}
		}
	}
}

// lag closes the sessions watching target as the hub does when a
// session's buffer overflows.
func (h *fakeHub) lag(target string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fs := range h.sessions {
		if fs.target == target {
			h.end(fs)
		}
	}
}

func (h *fakeHub) open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

func subEnv(t *testing.T) (*env, *fakeHub) {
	hub := newFakeHub()
	e := newEnv(t, func(c *Config) { c.Hub = hub; c.MinExpires = time.Second })
	e.user("anna", "100", "anna-pw")
	e.user("ben", "101", "ben-pw")
	hub.mu.Lock()
	defer hub.mu.Unlock()
	hub.presence["anna"] = &actorspb.PresenceView{Visible: true, State: "available"}
	hub.lines["100"] = &actorspb.LineView{Number: "100", Owner: "anna", SeesState: true, State: "idle"}
	return e, hub
}

func (e *env) ua(number, pw string) *siptest.UA {
	return siptest.NewUA(e.t, e.srv.Addr(), testDomain, number, pw)
}

func waitGone(t *testing.T, e *env, hub *fakeHub) {
	t.Helper()
	eventually(t, 10*time.Second, "subscriptions or hub sessions left", func() bool {
		return e.srv.Subscriptions() == 0 && hub.open() == 0
	})
}

// Expiry, refresh and fetch: a subscription not refreshed ends with a
// NOTIFY terminated;reason=timeout; a refresh answers a NOTIFY with the
// new time; Expires: 0 on a new SUBSCRIBE fetches the state once.
func TestSubscribe_ExpiryRefreshFetch(t *testing.T) {
	base := runtime.NumGoroutine()
	e, hub := subEnv(t)
	ben := e.ua("101", "ben-pw")

	sub, res := ben.Subscribe("anna", "presence", 1)
	if res.StatusCode != 200 || res.GetHeader("Expires").Value() != "1" {
		t.Fatalf("SUBSCRIBE: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "active" || n.Expires != 1 {
		t.Errorf("first NOTIFY: %s expires=%d", n.State, n.Expires)
	}
	start := time.Now()
	n := sub.Next(5 * time.Second)
	if n.State != "terminated" || n.Reason != "timeout" || len(n.Body) == 0 {
		t.Errorf("at expiry: %s;reason=%s body %q", n.State, n.Reason, n.Body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("expired after %v, want about 1s", d)
	}
	waitGone(t, e, hub)

	sub, _ = ben.Subscribe("100", "dialog", 2)
	sub.Next(5 * time.Second)
	if res := sub.Refresh(30); res.StatusCode != 200 || res.GetHeader("Expires").Value() != "30" {
		t.Fatalf("refresh: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "active" || n.Expires < 29 {
		t.Errorf("NOTIFY after the refresh: %s expires=%d", n.State, n.Expires)
	}
	sub.Quiet(2500 * time.Millisecond) // the old expiry passed without effect
	if res := sub.Refresh(0); res.StatusCode != 200 {
		t.Fatalf("un-SUBSCRIBE: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "terminated" || n.Reason != "timeout" {
		t.Errorf("after un-SUBSCRIBE: %s;reason=%s", n.State, n.Reason)
	}

	sub, res = ben.Subscribe("anna", "presence", 0)
	if res.StatusCode != 200 {
		t.Fatalf("fetch: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "terminated" || n.Reason != "timeout" || len(n.Body) == 0 {
		t.Errorf("fetch NOTIFY: %s;reason=%s body %q", n.State, n.Reason, n.Body)
	}
	waitGone(t, e, hub)
	if ben.StrayNotifies() != 0 {
		t.Errorf("%d NOTIFYs outside a subscription", ben.StrayNotifies())
	}
	noLeaks(t, e, base+20) // the phone's and server's sipgo goroutines stay until cleanup
}

// Changes coalesce into NOTIFYs in order; the last one sent shows the
// latest view. A lagged hub session ends the subscription deactivated
// (resubscribe at once); a revoked view ends it rejected.
func TestSubscribe_ChangesLagRevocation(t *testing.T) {
	e, hub := subEnv(t)
	ben := e.ua("101", "ben-pw")
	sub, _ := ben.Subscribe("100", "dialog", 60)
	sub.Next(5 * time.Second)
	// The first call rings from 554, the last from 555: the last view is
	// told apart from the first one (both ringing) however the NOTIFYs
	// coalesce.
	for i, st := range []string{"ringing", "busy", "idle", "ringing"} {
		v := &actorspb.LineView{Number: "100", SeesState: true, State: st}
		if st != "idle" {
			remote := "554"
			if i == 3 {
				remote = "555"
			}
			v.Calls = []*actorspb.CallView{{Direction: "in", Remote: remote, Answered: st == "busy"}}
		}
		hub.push(actors.Event{Target: "100", Line: v})
	}
	var last siptest.DialogInfo
	version := 0
	for len(last.Dialogs) != 1 || last.Dialogs[0].State != "early" || last.Dialogs[0].Remote.Identity != "sip:555@"+testDomain {
		n := sub.Next(5 * time.Second)
		d, err := siptest.ParseDialogInfo(n.Body)
		if err != nil {
			t.Fatal(err)
		}
		if d.Version != version+1 {
			t.Fatalf("version %d after %d", d.Version, version)
		}
		version, last = d.Version, d
	}
	hub.lag("100") // the last view (555 ringing) has been sent: sub.Next fails otherwise
	if n := sub.Next(5 * time.Second); n.State != "terminated" || n.Reason != "deactivated" {
		t.Errorf("after lag: %s;reason=%s", n.State, n.Reason)
	}

	sub, _ = ben.Subscribe("anna", "presence", 60)
	sub.Next(5 * time.Second)
	hub.push(actors.Event{Target: "anna", View: &actorspb.PresenceView{}})
	if n := sub.Next(5 * time.Second); n.State != "terminated" || n.Reason != "rejected" || len(n.Body) != 0 {
		t.Errorf("after revocation: %s;reason=%s body %q", n.State, n.Reason, n.Body)
	}
	waitGone(t, e, hub)
}

// A subscriber answering NOTIFY with 481 has ended the subscription; a
// shutdown ends the others with deactivated.
func TestSubscribe_SubscriberGoneAndShutdown(t *testing.T) {
	e, hub := subEnv(t)
	ben := e.ua("101", "ben-pw")
	ben.SetNotifyAnswer(481)
	ben.Subscribe("anna", "presence", 60)
	waitGone(t, e, hub)

	ben.SetNotifyAnswer(200)
	sub, _ := ben.Subscribe("anna", "presence", 60)
	sub.Next(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sub.Next(5 * time.Second); n.State != "terminated" || n.Reason != "deactivated" {
		t.Errorf("at shutdown: %s;reason=%s", n.State, n.Reason)
	}
	if e.srv.Subscriptions() != 0 || hub.open() != 0 {
		t.Errorf("after shutdown: %d subscriptions, %d hub sessions", e.srv.Subscriptions(), hub.open())
	}
}

// Bad SUBSCRIBEs get proper answers: no Event or an unknown one 489 with
// Allow-Events, an Accept without the event's type 406, a bad Expires
// 400, a wrong password 403, an unknown resource or one the grain does
// not know 404, a hidden view 403; without a hub, every SUBSCRIBE 489.
// (423, and 481 for an ended subscription: node's node tests.)
func TestSubscribe_BadRequests(t *testing.T) {
	e, hub := subEnv(t)
	e.user("carl", "102", "carl-pw") // in the directory, unknown to the hub
	hub.mu.Lock()
	hub.presence["ben"] = &actorspb.PresenceView{} // ben's presence hidden from the subscriber
	hub.mu.Unlock()
	ben := e.ua("101", "ben-pw")
	check := func(what string, want int, target, event string, expires int, extra ...gosip.Header) *gosip.Response {
		t.Helper()
		_, res := ben.Subscribe(target, event, expires, extra...)
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d", what, res.StatusCode, want)
		}
		return res
	}
	if res := check("no Event", 489, "anna", "", 60); res.GetHeader("Allow-Events") == nil {
		t.Error("489 without Allow-Events")
	}
	check("unknown event", 489, "anna", "message-summary", 60)
	check("Accept without PIDF", 406, "anna", "presence", 60, gosip.NewHeader("Accept", "text/plain"))
	if sub, res := ben.Subscribe("anna", "presence", 60, gosip.NewHeader("Accept", "application/pidf+xml, text/plain")); res.StatusCode != 200 {
		t.Errorf("Accept with PIDF: %d", res.StatusCode)
	} else {
		sub.Refresh(0)
	}
	check("bad Expires", 400, "anna", "presence", -1, gosip.NewHeader("Expires", "soon"))
	check("unknown resource", 404, "nobody", "presence", 60)
	check("resource unknown to the grain", 404, "carl", "presence", 60)
	check("hidden presence", 403, "ben", "presence", 60)
	wrong := siptest.NewUA(t, e.srv.Addr(), testDomain, "101", "wrong")
	if _, res := wrong.Subscribe("anna", "presence", 60); res.StatusCode != 403 {
		t.Errorf("wrong password: %d", res.StatusCode)
	}
	waitGone(t, e, hub)
	e2 := newEnv(t)
	e2.user("ben", "101", "ben-pw")
	if _, res := siptest.NewUA(t, e2.srv.Addr(), testDomain, "101", "ben-pw").Subscribe("ben", "presence", 60); res.StatusCode != 489 {
		t.Errorf("without a hub: %d", res.StatusCode)
	}
}

// A subscriber behind a NAT (its Contact names a private address) gets
// its NOTIFYs where its SUBSCRIBE came from.
func TestSubscribe_NATedSubscriberGetsNotifiesAtItsSource(t *testing.T) {
	e, hub := subEnv(t)
	ben := e.ua("101", "ben-pw")
	ben.Private = "10.0.0.9:5060"
	sub, res := ben.Subscribe("anna", "presence", 60)
	if res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "active" {
		t.Errorf("first NOTIFY: %s", n.State)
	}
	if res := sub.Refresh(0); res.StatusCode != 200 {
		t.Fatalf("un-SUBSCRIBE: %v", res)
	}
	if n := sub.Next(5 * time.Second); n.State != "terminated" {
		t.Errorf("last NOTIFY: %s", n.State)
	}
	waitGone(t, e, hub)
}
