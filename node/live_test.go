//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/api"
)

// ---- OpenAPI validation of the live routes' answers (api/openapi.yaml) ----

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		if specDoc, specErr = loader.LoadFromData(api.OpenAPI); specErr != nil {
			return
		}
		if specErr = specDoc.Validate(loader.Context); specErr != nil {
			return
		}
		specRouter, specErr = legacy.NewRouter(specDoc)
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return specDoc, specRouter
}

// getValid sends GET path as c and checks the answer against openapi.yaml;
// it returns the status and the raw body.
func (c client) getValid(path, index string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.user, c.pass)
	if index != "" {
		req.Header.Set(api.IndexHeader, index)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	_, router := loadSpec(c.t)
	probe := req.Clone(context.Background())
	probe.URL.Scheme, probe.URL.Host, probe.Host = "", "", ""
	route, params, err := router.FindRoute(probe)
	if err != nil {
		c.t.Fatalf("GET %s: not in openapi.yaml: %v", path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
		Status:                 res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("OpenAPI: GET %s → %d %s: %v", path, res.StatusCode, body, err)
	}
	return res.StatusCode, body
}

// checkSchema validates an event's data against a schema of openapi.yaml.
func checkSchema(t *testing.T, schema string, data []byte) {
	t.Helper()
	doc, _ := loadSpec(t)
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %s: %v", schema, data, err)
	}
	if err := doc.Components.Schemas[schema].Value.VisitJSON(v); err != nil {
		t.Errorf("OpenAPI %s: %s: %v", schema, data, err)
	}
}

// ---- an SSE client ----

type sseEvent struct {
	id, event string
	data      []byte
}

// sse is an open event stream; events arrive on a channel fed by a reader
// goroutine that ends when the body is closed.
type sse struct {
	t      *testing.T
	body   io.ReadCloser
	events chan sseEvent
	done   chan struct{}
}

func (c client) openEvents(query string, header ...string) (*sse, int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+"/v1/events"+query, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body) // the status is what the caller checks
		return nil, res.StatusCode, body
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		c.t.Fatalf("Content-Type %q", ct)
	}
	s := &sse{t: c.t, body: res.Body, events: make(chan sseEvent, 1024), done: make(chan struct{})}
	go s.read()
	c.t.Cleanup(s.close)
	return s, res.StatusCode, nil
}

func (s *sse) read() {
	defer close(s.done)
	defer close(s.events)
	r := bufio.NewReader(s.body)
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.event != "" {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = []byte(line[6:])
		}
	}
}

func (s *sse) close() {
	s.body.Close()
	<-s.done
}

// next returns the next event, failing the test after 10 s.
func (s *sse) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// presenceEvent is the data of a presence event.
type presenceEvent struct {
	User    string `json:"user"`
	Visible bool   `json:"visible"`
	State   string `json:"state"`
	Note    string `json:"note"`
}

// nextPresence skips to the next presence event.
func (s *sse) nextPresence() presenceEvent {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.event != "presence" {
			continue
		}
		checkSchema(s.t, "PresenceEvent", ev.data)
		var p presenceEvent
		if err := json.Unmarshal(ev.data, &p); err != nil {
			s.t.Fatal(err)
		}
		return p
	}
}

// snapshot reads hello … ready and returns hello and the presence
// snapshot by user.
func (s *sse) snapshot() (map[string]any, map[string]presenceEvent) {
	s.t.Helper()
	hello := s.next()
	if hello.event != "hello" {
		s.t.Fatalf("first event %q, want hello", hello.event)
	}
	checkSchema(s.t, "Hello", hello.data)
	var h map[string]any
	if err := json.Unmarshal(hello.data, &h); err != nil {
		s.t.Fatal(err)
	}
	snap := map[string]presenceEvent{}
	for {
		ev := s.next()
		switch ev.event {
		case "ready":
			return h, snap
		case "presence":
			checkSchema(s.t, "PresenceEvent", ev.data)
			var p presenceEvent
			if err := json.Unmarshal(ev.data, &p); err != nil {
				s.t.Fatal(err)
			}
			snap[p.User] = p
		case "line":
			checkSchema(s.t, "LineState", ev.data)
		default:
			s.t.Fatalf("unexpected %q in the snapshot", ev.event)
		}
	}
}

// liveFixture: anna, ben and carl in the active group sales, which shows
// its members on the monitor; global blocked; anna gives ben team.
func liveFixture(t *testing.T) (s *Node, admin, anna, ben, carl client) {
	s = startServer(t)
	base := "http://" + s.HTTPAddr()
	admin = client{t, base, AdminID, "admin-secret"}
	for _, u := range []string{"anna", "ben", "carl"} {
		admin.must(http.StatusCreated, "PUT", "/v1/users/"+u, map[string]any{"display_name": strings.ToUpper(u[:1]) + u[1:], "password": u + "-password"}, "")
	}
	admin.must(http.StatusOK, "PUT", "/v1/global", map[string]any{"level": "blocked"}, "")
	admin.must(http.StatusCreated, "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": true,
		"display_members_on_monitor": true, "keys": []map[string]string{{"label": "Reception", "number": "100"}},
		"members": []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}, {"user": "carl", "role": "user"}}}, "")
	anna = client{t, base, "anna", "anna-password"}
	ben = client{t, base, "ben", "ben-password"}
	carl = client{t, base, "carl", "carl-password"}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/ben", map[string]any{"level": "team"}, "")
	return s, admin, anna, ben, carl
}

// The stream sends a snapshot filtered by rights, then each change as the
// viewer may see it; a contact without see_presence shows nothing; a
// revoked right sends one "not visible" and stops that target's events.
func TestServer_EventsFollowPresenceAndRevocation(t *testing.T) {
	_, _, anna, ben, carl := liveFixture(t)
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "busy", "note": "call"}, "")

	st, code, body := ben.openEvents("")
	if code != http.StatusOK {
		t.Fatalf("open: %d %s", code, body)
	}
	hello, snap := st.snapshot()
	if hello["resumed"] != false {
		t.Errorf("hello %v", hello)
	}
	if p := snap["anna"]; !p.Visible || p.State != "busy" || p.Note != "call" {
		t.Errorf("snapshot anna = %+v", p)
	}
	if p, ok := snap["carl"]; !ok || p.Visible || p.State != "" {
		t.Errorf("snapshot carl = %+v (blocked: want not visible)", p)
	}
	if p := snap["ben"]; !p.Visible {
		t.Errorf("snapshot ben (self) = %+v", p)
	}

	// A change ben may see arrives; one he may not see does not.
	carl.must(http.StatusOK, "PUT", "/v1/users/carl/presence", map[string]any{"state": "dnd"}, "")
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "away", "note": "lunch"}, "")
	if p := st.nextPresence(); p.User != "anna" || p.State != "away" || p.Note != "lunch" {
		t.Errorf("after anna's change: %+v", p)
	}
	// Revoked: one "not visible", then nothing of anna.
	anna.must(http.StatusNoContent, "DELETE", "/v1/users/anna/grants/ben", nil, "")
	if p := st.nextPresence(); p.User != "anna" || p.Visible {
		t.Errorf("after the revocation: %+v", p)
	}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "available"}, "")
	// carl grants ben public: carl's presence shows up, and it is the next
	// event: nothing of anna came before it.
	carl.must(http.StatusOK, "PUT", "/v1/users/carl/grants/ben", map[string]any{"level": "public"}, "")
	if p := st.nextPresence(); p.User != "carl" || !p.Visible || p.State != "dnd" {
		t.Errorf("after carl's grant: %+v (want carl dnd, and nothing of anna before)", p)
	}
}

// A client that reconnects with Last-Event-ID gets a new stream whose
// snapshot holds what changed while it was away.
func TestServer_EventsResumeWithSnapshot(t *testing.T) {
	_, _, anna, ben, _ := liveFixture(t)
	st, code, body := ben.openEvents("?monitor=false&user=anna")
	if code != http.StatusOK {
		t.Fatalf("open: %d %s", code, body)
	}
	hello, _ := st.snapshot()
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "busy"}, "")
	last := st.nextPresence()
	if last.State != "busy" {
		t.Fatalf("got %+v", last)
	}
	st.close()
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "dnd", "note": "focus"}, "")

	st2, code, body := ben.openEvents("?monitor=false&user=anna", "Last-Event-ID", fmt.Sprintf("%s-9", hello["stream"]))
	if code != http.StatusOK {
		t.Fatalf("resume: %d %s", code, body)
	}
	hello2, snap := st2.snapshot()
	if hello2["resumed"] != true || hello2["stream"] == hello["stream"] {
		t.Errorf("resumed hello %v after %v", hello2, hello)
	}
	if p := snap["anna"]; p.State != "dnd" || p.Note != "focus" {
		t.Errorf("resumed snapshot anna = %+v", p)
	}
	if _, ok := snap["carl"]; ok {
		t.Errorf("monitor=false still watched carl: %v", snap)
	}
}

// Bad requests are refused before the stream starts; the token may be in
// the query on this route only.
func TestServer_EventsRefusals(t *testing.T) {
	s, _, _, ben, _ := liveFixture(t)
	base := "http://" + s.HTTPAddr()
	cases := []struct {
		name  string
		c     client
		query string
		want  int
	}{
		{"anonymous", client{t, base, "", ""}, "", http.StatusUnauthorized},
		{"bad user id", ben, "?user=-x", http.StatusBadRequest},
		{"unknown user", ben, "?user=nobody", http.StatusNotFound},
		{"bad monitor flag", ben, "?monitor=maybe", http.StatusBadRequest},
		{"bad token", client{t, base, "", ""}, "?access_token=nope", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			_, code, body := tc.c.openEvents(tc.query)
			if code != tc.want {
				t.Errorf("%d %s, want %d", code, body, tc.want)
			}
		})
	}
	var tok map[string]any
	tok, _ = ben.must(http.StatusCreated, "POST", "/v1/tokens", nil, "")
	anon := client{t, base, "", ""}
	st, code, body := anon.openEvents("?monitor=false&access_token=" + tok["token"].(string))
	if code != http.StatusOK {
		t.Fatalf("query token: %d %s", code, body)
	}
	if _, snap := st.snapshot(); !snap["ben"].Visible {
		t.Errorf("snapshot %v", snap)
	}
	// Elsewhere a token in the query is not a credential.
	if code, _, _ := anon.do("GET", "/v1/monitor?access_token="+tok["token"].(string), nil, ""); code != http.StatusUnauthorized {
		t.Errorf("monitor with ?access_token=: %d", code)
	}
}

// The monitor shows the display groups, keys and each contact as the
// caller may see them.
func TestServer_MonitorShowsContactsAsTheCallerMaySee(t *testing.T) {
	_, admin, anna, ben, _ := liveFixture(t)
	_, idx := anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "busy", "note": "call"}, "")
	code, body := ben.getValid("/v1/monitor", idx)
	if code != http.StatusOK {
		t.Fatalf("monitor: %d %s", code, body)
	}
	var m struct {
		Me     struct{ ID string }
		Groups []struct {
			Kind, Name string
			Members    []string
		}
		Keys     []struct{ Label, Number, Group string }
		Contacts []struct {
			ID       string
			Presence presenceEvent
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Me.ID != "ben" || len(m.Groups) != 1 || m.Groups[0].Kind != "members" ||
		strings.Join(m.Groups[0].Members, ",") != "anna,ben,carl" || len(m.Keys) != 1 || m.Keys[0].Group != "sales" {
		t.Errorf("monitor = %s", body)
	}
	if len(m.Contacts) != 2 || m.Contacts[0].ID != "anna" || m.Contacts[0].Presence.Note != "call" ||
		m.Contacts[1].ID != "carl" || m.Contacts[1].Presence.Visible {
		t.Errorf("contacts = %+v", m.Contacts)
	}
	// An inactive group gives no monitor.
	admin.must(http.StatusOK, "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": false,
		"display_members_on_monitor": true,
		"members":                    []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}}}, "")
	if code, body := ben.getValid("/v1/monitor", ""); code != http.StatusOK || strings.Contains(string(body), `"anna"`) {
		t.Errorf("inactive group: %d %s", code, body)
	}
}

// lineCall reports a call step to a line grain, as the SIP layer does.
func lineCall(t *testing.T, s *Node, number string, m *actorspb.LineCall) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.layer().node.Request(ctx, number, actors.KindLine, m)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := resp.(*actorspb.LineCallReply); !ok || r.GetError() != nil {
		t.Fatalf("line call: %v", resp)
	}
}

// Line state follows the line rights: team sees the ringing call and its
// caller on a primary line, public sees only the forwarding flag, blocked
// sees nothing (404 like an unknown line); the stream shows the change.
func TestServer_LineStateFollowsLineRights(t *testing.T) {
	s, admin, anna, ben, carl := liveFixture(t)
	admin.must(http.StatusCreated, "PUT", "/v1/lines/201", map[string]any{"owner": "anna", "kind": "primary"}, "")
	st, code, body := ben.openEvents("?monitor=false&line=201")
	if code != http.StatusOK {
		t.Fatalf("open: %d %s", code, body)
	}
	st.snapshot()
	lineCall(t, s, "201", &actorspb.LineCall{CallId: "c1", Phase: "ringing", Remote: "+4930123", AtUnixMs: time.Now().UnixMilli()})

	var ls struct {
		Number, Owner, State string
		SeesState            bool `json:"sees_state"`
		CanPickup            bool `json:"can_pickup"`
		Calls                []struct{ Direction, Remote string }
	}
	code, body = ben.getValid("/v1/lines/201/state", "")
	if code != http.StatusOK {
		t.Fatalf("ben (team): %d %s", code, body)
	}
	if err := json.Unmarshal(body, &ls); err != nil {
		t.Fatal(err)
	}
	if !ls.SeesState || ls.State != "ringing" || len(ls.Calls) != 1 || ls.Calls[0].Remote != "+4930123" || !ls.CanPickup {
		t.Errorf("ben (team) sees %s", body)
	}
	// The stream got the change.
	for {
		ev := st.next()
		if ev.event != "line" {
			continue
		}
		checkSchema(t, "LineState", ev.data)
		if !strings.Contains(string(ev.data), `"ringing"`) {
			t.Errorf("line event %s", ev.data)
		}
		break
	}
	// carl is blocked: the line is hidden as if it did not exist.
	code, hidden := carl.getValid("/v1/lines/201/state", "")
	_, unknown := carl.getValid("/v1/lines/299/state", "")
	if code != http.StatusNotFound || strings.ReplaceAll(string(hidden), "201", "299") != string(unknown) {
		t.Errorf("carl: %d %s; unknown line: %s", code, hidden, unknown)
	}
	if _, code, _ := carl.openEvents("?monitor=false&line=201"); code != http.StatusNotFound {
		t.Errorf("carl streams line 201: %d", code)
	}
	// public: forwarding shown, state not.
	_, idx := anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/carl", map[string]any{"level": "public"}, "")
	code, body = carl.getValid("/v1/lines/201/state", idx)
	if code != http.StatusOK || !strings.Contains(string(body), `"sees_state":false`) || strings.Contains(string(body), "+4930123") {
		t.Errorf("carl (public): %d %s", code, body)
	}
	if code, body := ben.getValid("/v1/lines/x1/state", ""); code != http.StatusBadRequest {
		t.Errorf("bad number: %d %s", code, body)
	}
}
