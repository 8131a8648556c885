package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/sip/siptest"
)

// sseStream is an open GET /v1/events on one node.
type sseStream struct {
	name   string
	cancel context.CancelFunc
	events chan [2]string // event name and data; closed at the end
}

// openStream opens the event stream on addr with the given Authorization
// header ("" for none) and query, and fails unless it reaches "ready".
func openStream(t *testing.T, name, addr, authz, query string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: GET /v1/events: %v", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("%s: GET /v1/events: %d", name, resp.StatusCode)
	}
	s := &sseStream{name: name, cancel: cancel, events: make(chan [2]string, 256)}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev, data string
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "" && ev != "":
				s.events <- [2]string{ev, data}
				ev, data = "", ""
			case strings.HasPrefix(line, "event: "):
				ev = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}()
	for e := range s.events {
		if e[0] == "ready" {
			return s
		}
	}
	t.Fatalf("%s: stream ended before ready", name)
	return nil
}

// endedSignedOut waits until the stream sends end with signed_out and
// closes; it returns how long after start that was.
func (s *sseStream) endedSignedOut(t *testing.T, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	deadline := time.After(within)
	var took time.Duration
	for {
		select {
		case e, ok := <-s.events:
			switch {
			case !ok && took > 0:
				return took
			case !ok:
				t.Fatalf("%s: stream closed without end/signed_out", s.name)
			case e[0] == "end" && strings.Contains(e[1], `"signed_out"`):
				took = time.Since(start)
			case e[0] == "end":
				t.Fatalf("%s: end %s, want signed_out", s.name, e[1])
			}
		case <-deadline:
			t.Fatalf("%s: not ended with signed_out and closed within %v", s.name, within)
		}
	}
}

// stillOpen fails when the stream ended (it is given a short look: a
// change that must not end it has been applied everywhere before).
func (s *sseStream) stillOpen(t *testing.T) {
	t.Helper()
	for {
		select {
		case e, ok := <-s.events:
			if !ok || e[0] == "end" {
				t.Fatalf("%s: stream ended (%v), want it open", s.name, e)
			}
		case <-time.After(200 * time.Millisecond): // a bounded look for an end that must not come
			return
		}
	}
}

// endBound is how long a stream may take to end in these tests: the goal
// is under 1 s; child processes under -race on a shared machine get room.
const endBound = 3 * time.Second

// TestCluster_StreamsAndSubscriptionsEndOnEveryNodeWhenAccessEnds: sue
// holds event streams on three nodes, with her password (Basic), a
// bearer token and a ticket made on another node than the stream's, and
// a SIP subscription on n3. Revoking her tokens through n1 ends the token
// and ticket streams everywhere and leaves the Basic ones; disabling her
// through n2 ends the Basic streams on every node and her subscription
// with a terminating NOTIFY.
func TestCluster_StreamsAndSubscriptionsEndOnEveryNodeWhenAccessEnds(t *testing.T) {
	c := &testCluster{t: t}
	sipAddrs := map[string]string{}
	for i := range 3 {
		cn := &clusterNode{name: []string{"n1", "n2", "n3"}[i], data: t.TempDir(), gossip: freeAddr(t), raft: freeAddr(t), http: freeAddr(t)}
		sipAddrs[cn.name] = freeAddr(t)
		cn.args = []string{"--sip", sipAddrs[cn.name]}
		if i == 0 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn)
		cn.proc.waitServing(clusterStart)
	}
	c.waitVoters(3, clusterStart)
	n1, n2 := c.nodes[0], c.nodes[1]

	code, body, _ := apiCall(t, http.MethodPut, n1.http, "/v1/users/sue", map[string]any{"display_name": "Sue", "password": "sue-password-1"})
	if code != http.StatusCreated {
		t.Fatalf("PUT /v1/users/sue: %d %s", code, body)
	}
	code, body, index := apiCall(t, http.MethodPut, n1.http, "/v1/lines/301", map[string]any{"owner": "sue", "kind": "primary", "sip_password": "sue-sip-secret"})
	if code != http.StatusCreated {
		t.Fatalf("PUT /v1/lines/301: %d %s", code, body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("sue:sue-password-1"))
	q := "monitor=false&index=" + index

	var basics, tokenStreams []*sseStream
	for i, cn := range c.nodes {
		basics = append(basics, openStream(t, cn.name+" basic", cn.http, basic, q))
		tok, tokIndex := issueToken(t, cn, "sue", "sue-password-1", index)
		tokenStreams = append(tokenStreams, openStream(t, cn.name+" bearer", cn.http, "Bearer "+tok, "monitor=false&index="+tokIndex))
		// A ticket made on this node, used on the next one.
		other := c.nodes[(i+1)%3]
		ticket := makeTicket(t, cn, "Bearer "+tok, tokIndex)
		tokenStreams = append(tokenStreams, openStream(t, other.name+" ticket from "+cn.name, other.http, "", "monitor=false&ticket="+url.QueryEscape(ticket)))
		// Used once, on any node.
		if code, _, _ := call(http.MethodGet, cn.http, "/v1/events?ticket="+url.QueryEscape(ticket), "", "", nil); code != http.StatusUnauthorized {
			t.Errorf("a used ticket on %s: %d, want 401", cn.name, code)
		}
	}

	phone := siptest.NewUA(t, sipAddrs["n3"], "ucgrid.local", "301", "sue-sip-secret")
	sub, res := phone.Subscribe("sue", "presence", 600)
	if res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE on n3: %v", res)
	}
	if n := sub.Next(10 * time.Second); n.State != "active" {
		t.Fatalf("first NOTIFY: %s", n.State)
	}

	start := time.Now()
	if code, body, _ := call(http.MethodDelete, n1.http, "/v1/tokens/all", basic, "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /v1/tokens/all on n1: %d %s", code, body)
	}
	answered := time.Since(start) // the request's own cost (argon2id of the Basic sign-in)
	var worst time.Duration
	for _, s := range tokenStreams {
		took := s.endedSignedOut(t, start, endBound)
		t.Logf("%s: ended %v after the revocation was sent, %v after it was answered", s.name, took, took-answered)
		worst = max(worst, took-answered)
	}
	for _, s := range basics {
		s.stillOpen(t)
	}

	start = time.Now()
	code, body, _ = apiCall(t, http.MethodPut, n2.http, "/v1/users/sue", map[string]any{"display_name": "Sue", "disabled": true})
	if code != http.StatusOK {
		t.Fatalf("disable sue on n2: %d %s", code, body)
	}
	answered = time.Since(start)
	for _, s := range basics {
		took := s.endedSignedOut(t, start, endBound)
		t.Logf("%s: ended %v after the disable was sent, %v after it was answered", s.name, took, took-answered)
		worst = max(worst, took-answered)
	}
	deadline := time.Now().Add(endBound)
	for {
		n := sub.Next(time.Until(deadline))
		if n.State == "terminated" {
			if n.Reason != "rejected" {
				t.Errorf("terminating NOTIFY reason %q, want rejected", n.Reason)
			}
			took := time.Since(start)
			t.Logf("SIP subscription on n3: terminated %v after the disable was sent, %v after it was answered", took, took-answered)
			worst = max(worst, took-answered)
			break
		}
	}
	t.Logf("slowest end after the change was answered: %v", worst)
	// Out of service on that node too: the line can neither subscribe
	// again nor register (docs/sip.md, "Disabled users").
	if _, res := phone.Subscribe("sue", "presence", 600); res.StatusCode != 403 || res.Reason != "Account Disabled" {
		t.Errorf("SUBSCRIBE again on n3 after the disable: %d %q, want 403 Account Disabled", res.StatusCode, res.Reason)
	}
	if res := phone.Register(300); res.StatusCode != 403 || res.Reason != "Account Disabled" {
		t.Errorf("REGISTER on n3 after the disable: %d %q, want 403 Account Disabled", res.StatusCode, res.Reason)
	}
}

// makeTicket asks cn for an event-stream ticket.
func makeTicket(t *testing.T, cn *clusterNode, authz, index string) string {
	t.Helper()
	code, body, _ := call(http.MethodPost, cn.http, "/v1/events/tickets", authz, index, nil)
	var tk struct {
		Ticket    string    `json:"ticket"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &tk) != nil || tk.Ticket == "" {
		t.Fatalf("POST /v1/events/tickets on %s: %d %s", cn.name, code, body)
	}
	return tk.Ticket
}
