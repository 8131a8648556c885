package api

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/presence"
)

// rawEvent is one SSE event with its id.
type rawEvent struct{ id, name, data string }

// rawStream opens an event stream and returns its events with their ids.
func rawStream(t *testing.T, e *env, c cred, query string) <-chan rawEvent {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+"/v1/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	c(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("open: %d", res.StatusCode)
	}
	ch := make(chan rawEvent, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		var ev rawEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && ev.name != "":
				ch <- ev
				ev = rawEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { res.Body.Close(); <-done })
	return ch
}

// next returns the next event named name (skipping others).
func next(t *testing.T, ch <-chan rawEvent, name string) rawEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before %q", name)
			}
			if ev.name == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q within 10s", name)
		}
	}
}

// deliverTo hands ev to every open session of viewer, as the hub does.
func (m *memLive) deliverTo(viewer string, ev LiveEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.sessions {
		if s.viewer == viewer {
			s.deliver(ev)
		}
	}
}

func (m *memLive) openOf(viewer string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for s := range m.sessions {
		if s.viewer == viewer && !s.closed {
			n++
		}
	}
	return n
}

// seqOf is the SEQ of an event id STREAM-SEQ, with its stream.
func seqOf(t *testing.T, id string) (string, uint64) {
	t.Helper()
	stream, seq, ok := strings.Cut(id, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil {
		t.Fatalf("event id %q is not STREAM-SEQ", id)
	}
	return stream, n
}

// Events delivered with a shared encoding reach every stream of the view
// they were made for, each under the stream's own ids; a stream of a
// viewer who sees the change differently gets its own event, never the
// other's bytes.
func TestEvents_SharedEncodingKeepsViewsAndIDsPerStream(t *testing.T) {
	e, m := liveEnv(t)
	ben1 := rawStream(t, e, as("ben"), "?monitor=false&user=anna")
	ben2 := rawStream(t, e, as("ben"), "?monitor=false&user=anna")
	carl := rawStream(t, e, as("carl"), "?monitor=false&user=anna")
	for _, ch := range []<-chan rawEvent{ben1, ben2, carl} {
		next(t, ch, "ready")
	}
	seen := PresenceState{Visible: true, View: presence.View{State: presence.Busy, Note: "call"}}
	m.deliverTo("ben", LiveEvent{Target: "anna", Presence: &seen}.ShareEncoding())
	m.deliverTo("carl", LiveEvent{Target: "anna", Presence: &PresenceState{}}.ShareEncoding())
	var b1, b2 rawEvent
	for i, ch := range []<-chan rawEvent{ben1, ben2} {
		ev := next(t, ch, "presence") // the snapshot came before ready
		if ev.data != `{"user":"anna","visible":true,"state":"busy","note":"call","idle":false}` {
			t.Errorf("ben stream %d: %s", i+1, ev.data)
		}
		if i == 0 {
			b1 = ev
		} else {
			b2 = ev
		}
	}
	ev := next(t, carl, "presence")
	if ev.data != `{"user":"anna","visible":false,"state":"","note":"","idle":false}` {
		t.Errorf("carl: %s", ev.data)
	}
	s1, _ := seqOf(t, b1.id)
	s2, _ := seqOf(t, b2.id)
	if s1 == s2 {
		t.Errorf("two streams share the event id %s", b1.id)
	}
}

// Events pending when a stream wakes go out together, in order, with
// consecutive ids; a line that shows nothing is sent only to take back
// what was shown, in a batch as alone.
func TestEvents_PendingEventsGoOutInOrder(t *testing.T) {
	e, m := liveEnv(t)
	ch := rawStream(t, e, as("ben"), "?monitor=false&user=anna&line=201")
	ready := next(t, ch, "ready")
	stream, seq := seqOf(t, ready.id)
	// Six events: the stream's buffer (EventBuffer 4, raised to twice its
	// three targets).
	states := []presence.State{presence.Busy, presence.Away, presence.Available}
	nothing := lineOf("201", "anna")
	// One call under the session's lock, as a hub batch: the stream
	// finds them all pending.
	m.mu.Lock()
	for s := range m.sessions {
		for i, st := range states {
			p := PresenceState{Visible: true, View: presence.View{State: st, Note: fmt.Sprint("n", i)}}
			s.deliver(LiveEvent{Target: "anna", Presence: &p}.ShareEncoding())
		}
		s.deliver(LiveEvent{Target: "201", Line: &nothing}.ShareEncoding())
		s.deliver(LiveEvent{Target: "201", Line: &nothing}.ShareEncoding())
		p := PresenceState{Visible: true, View: presence.View{State: presence.Away, Note: "last"}}
		s.deliver(LiveEvent{Target: "anna", Presence: &p})
	}
	m.mu.Unlock()
	// The fixture's own group writes may still reach the stream as a
	// group_availability event: it takes its place in the numbering but
	// is not one of the events under test.
	var got []rawEvent
	for n := uint64(1); len(got) < len(states)+2; n++ {
		select {
		case ev := <-ch:
			if st, id := seqOf(t, ev.id); st != stream || id != seq+n {
				t.Errorf("event id %s, want %s-%d", ev.id, stream, seq+n)
			}
			if ev.name != "group_availability" {
				got = append(got, ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d events: %v", len(got), got)
		}
	}
	for i, ev := range got {
		switch {
		case i < len(states):
			if want := fmt.Sprintf(`"state":%q,"note":"n%d"`, states[i].String(), i); ev.name != "presence" || !strings.Contains(ev.data, want) {
				t.Errorf("event %d: %s %s, want %s", i, ev.name, ev.data, want)
			}
		case i == len(states):
			if ev.name != "line" || !strings.Contains(ev.data, `"number":"201"`) || strings.Contains(ev.data, "ringing") {
				t.Errorf("event %d: %s %s, want the line taken back", i, ev.name, ev.data)
			}
		default:
			if ev.name != "presence" || !strings.Contains(ev.data, `"note":"last"`) {
				t.Errorf("event %d: %s %s, want the last presence (the second empty line is not sent)", i, ev.name, ev.data)
			}
		}
	}
	if n := m.openOf("ben"); n != 1 {
		t.Errorf("%d sessions of ben open, want 1", n)
	}
}
