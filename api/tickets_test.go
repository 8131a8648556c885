package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// quietLiveEnv is liveEnv with keep-alives (and the periodic token check)
// an hour apart: what ends a stream there is the directory's change feed.
func quietLiveEnv(t *testing.T) *env {
	t.Helper()
	m := newMemLive()
	e := newEnv(t, func(c *HandlerConfig) {
		c.Metrics = prometheus.NewRegistry()
		c.Presence = m
		c.Live = LiveConfig{Lines: m, Events: m, KeepAlive: time.Hour, EventBuffer: 4}
	})
	for _, u := range []string{"anna", "ben"} {
		e.seedUser(u, "")
		m.presence[u] = presence.View{State: presence.Available}
	}
	m.presence["admin"] = presence.View{}
	return e
}

// streamsEnded reads ucgrid_api_streams_ended_total{reason} from the
// handler's registry (-1: no such series).
func (e *env) streamsEnded(reason string) float64 {
	e.t.Helper()
	mfs, err := e.h.cfg.Metrics.(*prometheus.Registry).Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ucgrid_api_streams_ended_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func (e *env) ticket(c cred) ticketJSON {
	e.t.Helper()
	var tk ticketJSON
	e.must(http.StatusCreated, c, "POST", "/v1/events/tickets", nil).json(e.t, &tk)
	return tk
}

func TestEventTickets_SingleUseShortLivedAndNotAToken(t *testing.T) {
	e := quietLiveEnv(t)
	tk := e.ticket(as("ben"))
	if !strings.HasPrefix(tk.Ticket, "ucgt_") || !tk.ExpiresAt.Equal(e.clock.Now().Add(30*time.Second)) {
		t.Fatalf("ticket %+v", tk)
	}
	q := "?monitor=false&ticket=" + url.QueryEscape(tk.Ticket)
	ev, r := e.stream(anonymous, q)
	if r.status != http.StatusOK {
		t.Fatalf("open with ticket: %s", r)
	}
	if hello := ev.until("hello"); !strings.Contains(hello, `"users":["ben"]`) {
		t.Errorf("the ticket's stream is not ben's: %s", hello)
	}
	ev.until("ready")
	// Used once: a second use is refused, the first stream goes on.
	if _, r := e.stream(anonymous, q); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "ticket") {
		t.Errorf("second use: %s", r)
	}
	// A ticket is no bearer token.
	if r := e.do(bearer(tk.Ticket), "GET", "/v1/users/ben", nil); r.status != http.StatusUnauthorized {
		t.Errorf("ticket as bearer token: %s", r)
	}
	// A changed parent part does not name the record.
	tk2 := e.ticket(as("ben"))
	parts := strings.Split(tk2.Ticket, ".") // ucgt_INDEX, PARENT, SECRET
	forged := parts[0] + "." + strings.Repeat("A", 43) + "." + parts[2]
	if _, r := e.stream(anonymous, "?ticket="+url.QueryEscape(forged)); r.status != http.StatusUnauthorized {
		t.Errorf("forged parent: %s", r)
	}
	for _, bad := range []string{"ucgt_", "ucg_x", "ucgt_1.-.short", "ucgt_x.-." + strings.Repeat("A", 43), strings.Repeat("x", 300)} {
		if _, r := e.stream(anonymous, "?ticket="+url.QueryEscape(bad)); r.status != http.StatusUnauthorized {
			t.Errorf("ticket %q: %s", bad, r)
		}
	}
	// An index this node has not applied is waited for one second at most.
	start := time.Now()
	if _, r := e.stream(anonymous, "?ticket=ucgt_99999999."+parts[1]+"."+parts[2]); r.status != http.StatusServiceUnavailable || time.Since(start) > 4*time.Second {
		t.Errorf("ticket of a future index: %s after %v", r, time.Since(start))
	}
	if _, r := e.stream(as("ben"), "?ticket="+url.QueryEscape(tk2.Ticket)); r.status != http.StatusBadRequest {
		t.Errorf("ticket and Authorization: %s", r)
	}
	// Expired: 30 s later on the handler's clock.
	tk3 := e.ticket(as("ben"))
	e.clock.Advance(31 * time.Second)
	if _, r := e.stream(anonymous, "?ticket="+url.QueryEscape(tk3.Ticket)); r.status != http.StatusUnauthorized {
		t.Errorf("expired ticket: %s", r)
	}
	if r := e.do(anonymous, "POST", "/v1/events/tickets", nil); r.status != http.StatusUnauthorized {
		t.Errorf("ticket without credentials: %s", r)
	}
}

// Minting tickets must not sign the user's devices out: tickets have
// their own cap (20 live), past which POST /v1/events/tickets answers 429,
// and the user's bearer tokens stay valid whatever a client mints.
func TestEventTickets_OwnCapNeverPushesOutTokens(t *testing.T) {
	e := quietLiveEnv(t)
	var phone, laptop tokenJSON
	e.must(http.StatusCreated, as("ben"), "POST", "/v1/tokens", nil).json(t, &phone)
	e.must(http.StatusCreated, as("ben"), "POST", "/v1/tokens", nil).json(t, &laptop)
	made, refused := 0, 0
	var last resp
	for range 150 {
		r := e.do(bearer(laptop.Token), "POST", "/v1/events/tickets", nil)
		switch r.status {
		case http.StatusCreated:
			made++
		case http.StatusTooManyRequests:
			refused++
			last = r
		default:
			t.Fatalf("ticket: %s", r)
		}
	}
	if made != 20 || refused != 130 {
		t.Fatalf("150 tickets: %d made, %d refused; want 20 and 130", made, refused)
	}
	if !strings.Contains(string(last.body), "max_tickets_per_user") || last.header.Get("Retry-After") != "30" {
		t.Errorf("refusal: %s (Retry-After %q), want the limit named and Retry-After 30", last, last.header.Get("Retry-After"))
	}
	for _, tok := range []string{phone.Token, laptop.Token} {
		e.must(http.StatusOK, bearer(tok), "GET", "/v1/users/ben", nil)
	}
	// The cap is per user, and frees up as tickets expire.
	e.ticket(as("anna"))
	e.clock.Advance(31 * time.Second)
	tk := e.ticket(bearer(phone.Token))
	if _, r := e.stream(anonymous, "?monitor=false&ticket="+url.QueryEscape(tk.Ticket)); r.status != http.StatusOK {
		t.Errorf("ticket after the old ones expired: %s", r)
	}
}

// endsWithin waits for "end" with signed_out and the stream's close.
func endsWithin(t *testing.T, ev *events, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-ev.ch:
			if !ok {
				t.Fatalf("stream closed without end/signed_out")
			}
			if e[0] == "end" {
				if !strings.Contains(e[1], "signed_out") {
					t.Fatalf("end %s, want signed_out", e[1])
				}
				ev.ended()
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("stream not ended within %v", within)
		}
	}
}

func TestEvents_EndWhenAccessEnds(t *testing.T) {
	cases := []struct {
		name   string
		reason string                      // of ucgrid_api_streams_ended_total
		cred   func(e *env) (cred, string) // credentials and query
		cause  func(e *env)
	}{
		{"basic, user disabled", "disabled", func(*env) (cred, string) { return as("ben"), "" }, func(e *env) {
			e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/ben", map[string]any{"display_name": "Ben", "disabled": true})
		}},
		{"basic, user deleted", "deleted", func(*env) (cred, string) { return as("ben"), "" }, func(e *env) {
			e.must(http.StatusNoContent, as("admin"), "DELETE", "/v1/users/ben", nil)
		}},
		{"basic, password changed", "password", func(*env) (cred, string) { return as("ben"), "" }, func(e *env) {
			e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "ben", PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}}}})
		}},
		{"basic, system role given", "roles", func(*env) (cred, string) { return as("ben"), "" }, func(e *env) {
			e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "ben", SystemRole: "system_admin"}}}})
		}},
		{"basic, group role changed", "roles", func(*env) (cred, string) { return as("ben"), "" }, func(e *env) {
			e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": true,
				"members": []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "manager"}}})
		}},
		{"basic, made deputy of a group", "roles", func(*env) (cred, string) { return as("ben"), "" }, func(e *env) {
			e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": true, "deputy": "ben",
				"members": []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}}})
		}},
		{"bearer, token revoked by another request", "token_revoked", func(e *env) (cred, string) {
			var tok tokenJSON
			e.must(http.StatusCreated, as("ben"), "POST", "/v1/tokens", nil).json(e.t, &tok)
			return bearer(tok.Token), ""
		}, func(e *env) { e.must(http.StatusNoContent, as("ben"), "DELETE", "/v1/tokens/all", nil) }},
		{"ticket, its token revoked", "ticket_parent_revoked", func(e *env) (cred, string) {
			var tok tokenJSON
			e.must(http.StatusCreated, as("ben"), "POST", "/v1/tokens", nil).json(e.t, &tok)
			return anonymous, "?ticket=" + url.QueryEscape(e.ticket(bearer(tok.Token)).Ticket)
		}, func(e *env) { e.must(http.StatusNoContent, as("ben"), "DELETE", "/v1/tokens/all", nil) }},
		{"ticket by password, user disabled", "disabled", func(e *env) (cred, string) {
			return anonymous, "?ticket=" + url.QueryEscape(e.ticket(as("ben")).Ticket)
		}, func(e *env) {
			e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/ben", map[string]any{"display_name": "Ben", "disabled": true})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := quietLiveEnv(t)
			e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": true,
				"members": []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}}})
			c, q := tc.cred(e)
			ev, r := e.stream(c, q)
			if r.status != http.StatusOK {
				t.Fatalf("open: %s", r)
			}
			ev.t = t
			ev.until("ready")
			tc.cause(e)
			took := endsWithin(t, ev, 3*time.Second)
			t.Logf("stream ended %v after the change", took)
			for _, r := range endReasons {
				want := 0.0
				if r == tc.reason {
					want = 1
				}
				if got := e.streamsEnded(r); got != want {
					t.Errorf("ucgrid_api_streams_ended_total{reason=%q} = %v, want %v", r, got, want)
				}
			}
		})
	}
	t.Run("a profile edit does not end the stream", func(t *testing.T) {
		e := quietLiveEnv(t)
		ev, _ := e.stream(as("ben"), "")
		ev.t = t
		ev.until("ready")
		e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/ben", map[string]any{"display_name": "Benjamin"})
		e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/anna", map[string]any{"display_name": "Anna", "disabled": true})
		select {
		case e := <-ev.ch:
			t.Errorf("stream got %v after a profile edit", e)
		case <-time.After(300 * time.Millisecond): // nothing must come: a bounded look
		}
	})
}
