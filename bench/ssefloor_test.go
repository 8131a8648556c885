package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The floor sends each stream of a user what is broadcast to that user,
// under the stream's own ids, and nothing broadcast to another user; the
// harness's reader counts it as it counts ucgrid's events.
func TestFloor_BroadcastReachesTheTargetsStreamsWithTheirOwnIDs(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- ServeFloor(ctx, FloorConfig{}, func(a string) { addrs <- a }) }()
	base := "http://" + <-addrs
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	type stream struct {
		r    *bufio.Reader
		body interface{ Close() error }
	}
	open := func(user string) stream {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events?user="+user, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return stream{r: bufio.NewReader(resp.Body), body: resp.Body}
	}
	// next reads one event (up to its blank line) as text.
	next := func(s stream) string {
		t.Helper()
		var ev strings.Builder
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\n" {
				if ev.Len() > 0 {
					return ev.String()
				}
				continue
			}
			ev.WriteString(line)
		}
	}
	a1, a2, b := open("anna"), open("anna"), open("ben")
	ids := map[string]bool{}
	for _, s := range []stream{a1, a2, b} {
		ev := next(s) // "retry" then "ready"
		if ev = strings.TrimPrefix(ev, "retry: 2000\n"); ev == "" {
			ev = next(s)
		}
		if !strings.Contains(ev, "event: ready\n") {
			t.Fatalf("first event %q, want ready", ev)
		}
	}
	// The streams register before "ready": a broadcast now reaches them.
	event := "event: presence\ndata: {\"user\":\"anna\",\"note\":\"c1\"}\n\n"
	if err := floorBroadcast(ctx, http.DefaultClient, base, "anna", []byte(event)); err != nil {
		t.Fatal(err)
	}
	if err := floorBroadcast(ctx, http.DefaultClient, base, "ben", []byte("event: presence\ndata: {\"user\":\"ben\"}\n\n")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []stream{a1, a2} {
		got := next(s)
		id, rest, _ := strings.Cut(got, "\n")
		if !strings.HasPrefix(id, "id: ") || !strings.HasSuffix(id, "-2") || rest+"\n" != event {
			t.Errorf("anna's stream got %q, want an id ending -2 and %q", got, event)
		}
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("anna's two streams share ids: %v", ids)
	}
	if got := next(b); !strings.Contains(got, `{"user":"ben"}`) {
		t.Errorf("ben's stream got %q, want ben's event only", got)
	}
	if err := floorBroadcast(ctx, http.DefaultClient, base, "anna", nil); err == nil {
		t.Error("an empty broadcast was accepted")
	}
}

// The floor's event for a change has ucgrid's sample bytes with the
// change's state and note, and the harness reads its change number.
func TestFloorEvent_SameBytesAsTheSample(t *testing.T) {
	sample := []byte(`data: {"user":"bu0","visible":true,"state":"available","note":"c7","idle":false}` + "\n")
	ev := floorEvent(sample, "busy", "c12")
	want := "event: presence\ndata: {\"user\":\"bu0\",\"visible\":true,\"state\":\"busy\",\"note\":\"c12\",\"idle\":false}\n\n"
	if string(ev) != want {
		t.Errorf("got %q, want %q", ev, want)
	}
	if n := changeNumber([]byte(strings.Split(string(ev), "\n")[1])); n != 12 {
		t.Errorf("change number %d, want 12", n)
	}
}

// A stream too far behind is dropped instead of holding the broadcast.
func TestFloor_DropsAStreamTooFarBehind(t *testing.T) {
	f := &floor{buffer: 1, streams: map[string]map[*floorStream]struct{}{}, done: make(chan struct{})}
	s := &floorStream{ch: make(chan []byte, 1)}
	f.register("anna", s)
	for i := range 2 {
		req := httptest.NewRequest(http.MethodPost, "/broadcast?user=anna", strings.NewReader(fmt.Sprint("event: x\ndata: ", i, "\n\n")))
		w := httptest.NewRecorder()
		f.broadcast(w, req)
		if w.Code != http.StatusNoContent {
			t.Fatalf("broadcast %d: %d", i, w.Code)
		}
	}
	select {
	case <-s.ch: // the first event
	case <-time.After(time.Second):
		t.Fatal("no event queued")
	}
	if _, ok := <-s.ch; ok {
		t.Error("stream not dropped when its buffer was full")
	}
	if len(f.streams["anna"]) != 0 {
		t.Error("dropped stream still registered")
	}
}
