package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The SSE floor: the least a Go server must do to hand one event to
// thousands of Server-Sent Events streams, with plain net/http and no
// ucgrid code. The presence scenario runs it next to ucgrid
// (PresenceConfig.Floor) and writes the same event bytes to the same
// number of streams at the same rate, so that ucgrid's CPU per delivery
// can be read against what the kernel and net/http cost on the machine.
//
// Its protocol is the least the harness needs: GET /v1/events?user=U
// opens a stream of U's events ("retry", then a "ready" event, then what
// is broadcast), and POST /broadcast?user=U writes the request body, one
// encoded event ("event: …\ndata: …\n\n"), to every stream of U, each
// under its own "id: STREAM-SEQ" line as ucgrid does. A stream writes the
// events pending when it wakes in one write and one flush (as ucgrid's
// streams do), and is dropped when FloorConfig.Buffer events are pending.

// FloorConfig configures the SSE floor server.
type FloorConfig struct {
	// Addr is the address to listen on. Default 127.0.0.1:0 (a free
	// port; ServeFloor's ready callback tells which).
	Addr string
	// Buffer is how many events a stream may have pending before it is
	// dropped (ucgrid ends such a stream as lagged). Default 64.
	Buffer int
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default.
func (c FloorConfig) WithDefaults() FloorConfig {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Buffer == 0 {
		c.Buffer = 64
	}
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c FloorConfig) Validate() error {
	c = c.WithDefaults()
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return invalidConfig("FloorConfig.Addr", "%q: %v", c.Addr, err)
	}
	if c.Buffer < 1 {
		return invalidConfig("FloorConfig.Buffer", "%d, must be at least 1", c.Buffer)
	}
	return nil
}

// ServeFloor serves the SSE floor until ctx ends; ready is called with
// the listening address (host:port) once connections are accepted.
func ServeFloor(ctx context.Context, cfg FloorConfig, ready func(addr string)) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("bench: floor: %w", err)
	}
	f := &floor{buffer: cfg.Buffer, streams: map[string]map[*floorStream]struct{}{}, done: ctx.Done()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/events", f.events)
	mux.HandleFunc("POST /broadcast", f.broadcast)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// The streams end with ctx; Close ends the listener and the
		// connections.
		_ = srv.Close() // its only error is the listener's, which Serve reports
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	err = srv.Serve(ln)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("bench: floor: %w", err)
}

type floor struct {
	buffer  int
	done    <-chan struct{}
	mu      sync.Mutex
	streams map[string]map[*floorStream]struct{} // by watched user
}

type floorStream struct{ ch chan []byte }

func (f *floor) events(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	s := &floorStream{ch: make(chan []byte, f.buffer)}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	id := hex.EncodeToString(b[:])
	var seq uint64
	buf := []byte("retry: 2000\n\n")
	f.register(user, s)
	defer f.unregister(user, s)
	buf = appendFloorEvent(buf, id, &seq, []byte("event: ready\ndata: {}\n\n"))
	for {
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		buf = buf[:0]
		select {
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		case ev, ok := <-s.ch:
			if !ok {
				return // dropped: too far behind
			}
			buf = appendFloorEvent(buf, id, &seq, ev)
			buf = f.pending(buf, id, &seq, s)
		}
	}
}

// pending adds the events already waiting to the batch (64 at most in
// all, as ucgrid's streams).
func (f *floor) pending(buf []byte, id string, seq *uint64, s *floorStream) []byte {
	for range 63 {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				return buf
			}
			buf = appendFloorEvent(buf, id, seq, ev)
		default:
			return buf
		}
	}
	return buf
}

func appendFloorEvent(buf []byte, id string, seq *uint64, ev []byte) []byte {
	*seq++
	buf = append(buf, "id: "...)
	buf = append(buf, id...)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, *seq, 10)
	buf = append(buf, '\n')
	return append(buf, ev...)
}

func (f *floor) register(user string, s *floorStream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streams[user] == nil {
		f.streams[user] = map[*floorStream]struct{}{}
	}
	f.streams[user][s] = struct{}{}
}

func (f *floor) unregister(user string, s *floorStream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.streams[user][s]; ok {
		delete(f.streams[user], s)
	}
}

// maxFloorEvent bounds a broadcast event's size.
const maxFloorEvent = 64 << 10

func (f *floor) broadcast(w http.ResponseWriter, r *http.Request) {
	ev, err := io.ReadAll(io.LimitReader(r.Body, maxFloorEvent+1))
	if err != nil || len(ev) == 0 || len(ev) > maxFloorEvent {
		http.Error(w, "bench: floor: want one encoded event of at most 64 KiB as the body", http.StatusBadRequest)
		return
	}
	user := r.URL.Query().Get("user")
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.streams[user] {
		select {
		case s.ch <- ev:
		default:
			// Too far behind: dropped, as ucgrid ends a lagging stream.
			delete(f.streams[user], s)
			close(s.ch)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
