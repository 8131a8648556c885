package api

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// memLive is an in-memory PresenceService, LineService and EventHub: the
// test says who sees whom (visible[viewer+">"+target]); the real filtering
// is the grains' and is tested end to end in node. It counts
// open sessions so that tests can check that streams close theirs.
type memLive struct {
	mu       sync.Mutex
	presence map[string]presence.View
	lines    map[string]actors.LineView // number → full state
	visible  map[string]bool
	sessions map[*memSession]bool
}

func newMemLive() *memLive {
	return &memLive{presence: map[string]presence.View{}, lines: map[string]actors.LineView{},
		visible: map[string]bool{}, sessions: map[*memSession]bool{}}
}

func (m *memLive) sees(viewer, target string) bool {
	return viewer == target || m.visible[viewer+">"+target]
}

func (m *memLive) Presence(_ context.Context, viewer, target string, _ uint64) (presence.View, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.presence[target]
	if !ok {
		return presence.View{}, false, ErrLiveNotFound
	}
	if !m.sees(viewer, target) {
		return presence.View{}, false, nil
	}
	return v, true, nil
}

func (m *memLive) SetPresence(_ context.Context, actor, target string, u presence.Update, _ uint64) (presence.View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if actor != target {
		return presence.View{}, ErrLiveForbidden
	}
	v := m.presence[target]
	if u.State != nil {
		v.State = *u.State
	}
	m.presence[target] = v
	for s := range m.sessions {
		if s.users[target] {
			p := PresenceState{Visible: m.sees(s.viewer, target), View: v}
			s.deliver(LiveEvent{Target: target, Presence: &p})
		}
	}
	return v, nil
}

func (m *memLive) LineState(_ context.Context, viewer, number string, _ uint64) (actors.LineView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lineFor(viewer, number)
}

func (m *memLive) lineFor(viewer, number string) (actors.LineView, error) {
	l, ok := m.lines[number]
	if !ok {
		return actors.LineView{}, ErrLiveNotFound
	}
	if !m.sees(viewer, l.Owner) {
		return lineOf(number, l.Owner), nil
	}
	return l, nil
}

// lineOf is a line of which the viewer sees nothing.
func lineOf(number, owner string) actors.LineView {
	return actors.LineView{Owner: owner, View: linestate.View{Number: number}}
}

func (m *memLive) Open(viewer string, buffer int) EventSession {
	s := &memSession{m: m, viewer: viewer, ch: make(chan LiveEvent, buffer), users: map[string]bool{}}
	m.mu.Lock()
	m.sessions[s] = true
	m.mu.Unlock()
	return s
}

func (m *memLive) open() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// closeAll ends every session as the hub does when it stops.
func (m *memLive) closeAll(lagged bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.sessions {
		s.end(lagged)
	}
}

type memSession struct {
	m      *memLive
	viewer string
	ch     chan LiveEvent
	users  map[string]bool
	closed bool
	lagged bool
}

// deliver and end are called with m.mu held.
func (s *memSession) deliver(ev LiveEvent) {
	if s.closed {
		return
	}
	select {
	case s.ch <- ev:
	default:
		s.end(true)
	}
}

func (s *memSession) end(lagged bool) {
	if !s.closed {
		s.closed, s.lagged = true, lagged
		close(s.ch)
	}
}

func (s *memSession) Events() <-chan LiveEvent { return s.ch }

func (s *memSession) Lagged() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.lagged
}

func (s *memSession) WatchUser(_ context.Context, target string) (PresenceState, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	v, ok := s.m.presence[target]
	if !ok {
		return PresenceState{}, ErrLiveNotFound
	}
	s.users[target] = true
	return PresenceState{Visible: s.m.sees(s.viewer, target), View: v}, nil
}

func (s *memSession) WatchLine(_ context.Context, number string) (actors.LineView, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.lineFor(s.viewer, number)
}

func (s *memSession) Close(context.Context) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.end(false)
	delete(s.m.sessions, s)
}

// liveEnv: anna, ben, carl (each with presence), ben sees anna, line 201
// of anna ringing; group sales (active, display members) of all three.
func liveEnv(t *testing.T) (*env, *memLive) {
	t.Helper()
	m := newMemLive()
	e := newEnv(t, func(c *HandlerConfig) {
		c.Presence = m
		c.Live = LiveConfig{Lines: m, Events: m, KeepAlive: 20 * time.Millisecond, EventBuffer: 4}
	})
	for _, u := range []string{"anna", "ben", "carl"} {
		e.seedUser(u, "")
		m.presence[u] = presence.View{State: presence.Available}
	}
	m.presence["admin"] = presence.View{}
	m.visible["ben>anna"] = true
	m.lines["201"] = actors.LineView{Owner: "anna", View: linestate.View{Number: "201", SeesState: true, State: linestate.Ringing,
		Calls: []linestate.CallView{{Direction: linestate.Incoming, Remote: "+4930123"}}, SeesForwarding: true}}
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "201", Owner: "anna", Kind: "primary"}}}})
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": true,
		"display_members_on_monitor": true,
		"members":                    []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}, {"user": "carl", "role": "user"}}})
	return e, m
}

func TestLineState_StatusPerRight(t *testing.T) {
	e, _ := liveEnv(t)
	var ls lineStateJSON
	e.must(http.StatusOK, as("ben"), "GET", "/v1/lines/201/state", nil).json(t, &ls)
	if ls.State != "ringing" || len(ls.Calls) != 1 || ls.Calls[0].Remote != "+4930123" {
		t.Errorf("ben sees %+v", ls)
	}
	e.must(http.StatusOK, as("anna"), "GET", "/v1/lines/201/state", nil)
	hidden := e.must(http.StatusNotFound, as("carl"), "GET", "/v1/lines/201/state", nil)
	unknown := e.must(http.StatusNotFound, as("carl"), "GET", "/v1/lines/202/state", nil)
	if strings.ReplaceAll(string(hidden.body), "201", "202") != string(unknown.body) {
		t.Errorf("hidden %s differs from unknown %s", hidden.body, unknown.body)
	}
	e.must(http.StatusBadRequest, as("ben"), "GET", "/v1/lines/abc/state", nil)
	e.must(http.StatusUnauthorized, anonymous, "GET", "/v1/lines/201/state", nil)
}

func TestMonitor_ShapeAndVisibility(t *testing.T) {
	e, _ := liveEnv(t)
	var m monitorJSON
	e.must(http.StatusOK, as("ben"), "GET", "/v1/monitor", nil).json(t, &m)
	if m.Me.ID != "ben" || len(m.Groups) != 1 || len(m.Contacts) != 2 {
		t.Fatalf("monitor %+v", m)
	}
	anna, carl := m.Contacts[0], m.Contacts[1]
	if !anna.Presence.Visible || len(anna.Lines) != 1 || carl.Presence.Visible || len(carl.Lines) != 0 {
		t.Errorf("anna %+v carl %+v", anna, carl)
	}
	// Someone in no group has an empty monitor, not an error.
	e.must(http.StatusOK, as("admin"), "GET", "/v1/monitor", nil).json(t, &m)
	if len(m.Groups) != 0 || len(m.Contacts) != 0 || m.Keys == nil {
		t.Errorf("admin's monitor %+v", m)
	}
	e.must(http.StatusUnauthorized, anonymous, "GET", "/v1/monitor", nil)
}

// events reads SSE events of one stream.
type events struct {
	t    *testing.T
	res  *http.Response
	ch   chan [2]string // event, data
	done chan struct{}
}

func (e *env) stream(c cred, query string, header ...string) (*events, resp) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+"/v1/events"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c(req)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		// Errors go through the validating client for the body check.
		return nil, e.do(c, "GET", "/v1/events"+query, nil, header...)
	}
	ev := &events{t: e.t.(*testing.T), res: res, ch: make(chan [2]string, 256), done: make(chan struct{})}
	go ev.read()
	e.t.Cleanup(ev.close)
	return ev, resp{status: res.StatusCode}
}

func (ev *events) read() {
	defer close(ev.done)
	defer close(ev.ch)
	sc := bufio.NewScanner(ev.res.Body)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && name != "":
			ev.ch <- [2]string{name, data}
			name, data = "", ""
		case line == ": keep-alive":
			ev.ch <- [2]string{"keep-alive", ""}
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

func (ev *events) close() {
	ev.res.Body.Close()
	<-ev.done
}

// until reads events until one named name; it fails after 10 s or at the
// end of the stream.
func (ev *events) until(name string) string {
	ev.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ev.ch:
			if !ok {
				ev.t.Fatalf("stream ended before %q", name)
			}
			if e[0] == name {
				return e[1]
			}
		case <-deadline:
			ev.t.Fatalf("no %q within 10s", name)
		}
	}
}

// ended waits for the end of the stream.
func (ev *events) ended() {
	ev.t.Helper()
	select {
	case <-ev.done:
	case <-time.After(10 * time.Second):
		ev.t.Fatal("stream did not end within 10s")
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func TestEvents_SnapshotKeepAliveAndCloseOnDisconnect(t *testing.T) {
	e, m := liveEnv(t)
	before := goleak.IgnoreCurrent()
	ev, r := e.stream(as("ben"), "")
	if r.status != http.StatusOK {
		t.Fatalf("open: %s", r)
	}
	if hello := ev.until("hello"); !strings.Contains(hello, `"resumed":false`) {
		t.Errorf("hello %s", hello)
	}
	ev.until("ready")
	ev.until("keep-alive")
	state := presence.Busy
	if _, err := m.SetPresence(context.Background(), "anna", "anna", presence.Update{State: &state}, 0); err != nil {
		t.Fatal(err)
	}
	if data := ev.until("presence"); !strings.Contains(data, `"user":"anna"`) || !strings.Contains(data, `"busy"`) {
		t.Errorf("presence event %s", data)
	}
	ev.close()
	waitFor(t, "session closed after the client left", func() bool { return m.open() == 0 })
	e.client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	// The stream's handler goroutine and its connection are gone.
	if err := goleak.Find(before); err != nil {
		t.Error(err)
	}
}

func TestEvents_ResumeSendsSnapshot(t *testing.T) {
	e, _ := liveEnv(t)
	ev, _ := e.stream(as("ben"), "?monitor=false&user=anna", "Last-Event-ID", "0011223344556677-12")
	hello := ev.until("hello")
	if !strings.Contains(hello, `"resumed":true`) || !strings.Contains(hello, `"last_event_id":"0011223344556677-12"`) {
		t.Errorf("hello %s", hello)
	}
	if data := ev.until("presence"); !strings.Contains(data, `"user":"ben"`) && !strings.Contains(data, `"user":"anna"`) {
		t.Errorf("snapshot %s", data)
	}
	ev.until("ready")
}

func TestEvents_LaggedShutdownAndRevokedTokenEndTheStream(t *testing.T) {
	e, m := liveEnv(t)
	cases := []struct {
		name   string
		reason string
		cause  func(tok string)
	}{
		{"lagged", "lagged", func(string) { m.closeAll(true) }},
		{"token revoked", "signed_out", func(tok string) { e.must(http.StatusNoContent, bearer(tok), "DELETE", "/v1/tokens/current", nil) }},
		{"shutdown", "shutdown", func(string) { e.h.EndStreams() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tok tokenJSON
			e.must(http.StatusCreated, as("ben"), "POST", "/v1/tokens", nil).json(t, &tok)
			ev, r := e.stream(anonymous, "?access_token="+tok.Token)
			if r.status != http.StatusOK {
				t.Fatalf("open: %s", r)
			}
			ev.t = t
			ev.until("ready")
			tc.cause(tok.Token)
			if data := ev.until("end"); !strings.Contains(data, tc.reason) {
				t.Errorf("end %s, want %s", data, tc.reason)
			}
			ev.ended()
			waitFor(t, "session closed", func() bool { return m.open() == 0 })
		})
	}
	// After shutdown new streams are refused.
	if _, r := e.stream(as("ben"), ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("after EndStreams: %s", r)
	}
}

func TestEvents_Refusals(t *testing.T) {
	e, _ := liveEnv(t)
	cases := []struct {
		name   string
		c      cred
		query  string
		header []string
		want   int
	}{
		{"anonymous", anonymous, "", nil, http.StatusUnauthorized},
		{"bad token in query", anonymous, "?access_token=ucg_nope", nil, http.StatusUnauthorized},
		{"token in query and header", as("ben"), "?access_token=x", nil, http.StatusBadRequest},
		{"bad user id", as("ben"), "?user=%2Fx", nil, http.StatusBadRequest},
		{"unknown user", as("ben"), "?user=nobody", nil, http.StatusNotFound},
		{"bad line", as("ben"), "?line=abc", nil, http.StatusBadRequest},
		{"unknown line", as("ben"), "?line=999", nil, http.StatusNotFound},
		{"hidden line", as("carl"), "?line=201", nil, http.StatusNotFound},
		{"bad monitor flag", as("ben"), "?monitor=1", nil, http.StatusBadRequest},
		{"bad Last-Event-ID", as("ben"), "", []string{"Last-Event-ID", strings.Repeat("x", 200)}, http.StatusBadRequest},
		{"too many targets", as("ben"), "?" + strings.Repeat("user=anna&", 201), nil, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, r := e.stream(tc.c, tc.query, tc.header...)
			if ev != nil {
				ev.close()
			}
			if r.status != tc.want {
				t.Errorf("%s, want %d", r, tc.want)
			}
		})
	}
}

func TestLiveConfig_EventsNeedPresenceAndLines(t *testing.T) {
	n := openNode(t)
	_, err := NewHandler(HandlerConfig{Directory: n, Passwords: cheapParams, Live: LiveConfig{Events: newMemLive()}})
	if !errors.Is(err, errLiveNeeds) {
		t.Errorf("NewHandler = %v, want errLiveNeeds", err)
	}
}
