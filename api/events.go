package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/linestate"
)

// The event stream (GET /v1/events, Server-Sent Events). docs/api.md
// describes the protocol; in short:
//
//   - Every event carries a whole state (a presence, a line), never a
//     delta, so a client simply replaces what it shows.
//   - Each stream starts with "hello", then the current state of every
//     watched target ("presence"/"line" events: the snapshot), then
//     "ready", then the changes as they happen, with a keep-alive comment
//     when idle.
//   - Event ids are STREAM-SEQ. A client that reconnects with
//     Last-Event-ID gets a new stream whose snapshot brings it up to date:
//     states are whole, so the current one supersedes every change it
//     missed, and nothing needs replaying (presence is kept nowhere but in
//     the grains, so there is no history to replay from).
//   - The stream ends when the client leaves, when its buffer overflows
//     (lagged: "end" with reason "lagged"; reconnect), when its access
//     ends ("signed_out": the user disabled or deleted, their password or
//     roles changed, its token revoked or expired; sessions.go), or when
//     the node shuts down.

// queryToken accepts the bearer token as ?access_token= (browsers'
// EventSource cannot send headers). Used on /v1/events only, so a token in
// a URL cannot work anywhere else. Deprecated: a URL ends up in proxy and
// server logs and in the browser's history; ?ticket= (tickets.go) is the
// replacement. The answer says so in a Deprecation header.
func (h *Handler) queryToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("access_token")
		if tok == "" {
			next(w, r)
			return
		}
		w.Header().Set("Deprecation", "true")
		w.Header().Set("Link", `</v1/events/tickets>; rel="alternate"`)
		if r.Header.Get("Authorization") != "" || r.URL.Query().Has("ticket") {
			h.fail(w, r, invalid("access_token", "give the token either as ?access_token=, ?ticket= or in the Authorization header, only one"))
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok)
		next(w, r)
	}
}

// streamRequest is what a stream watches, from the query and the monitor.
type streamRequest struct {
	users, lines []string
	// explicitLines must show something at start (404 otherwise, as for
	// GET /v1/lines/{number}/state); monitor lines need not.
	explicitLines map[string]bool
	lastEventID   string
}

const maxEventID = 128

func (h *Handler) parseStream(r *http.Request, c *caller) (streamRequest, error) {
	q := r.URL.Query()
	sr := streamRequest{explicitLines: map[string]bool{}, lastEventID: r.Header.Get("Last-Event-ID")}
	if len(sr.lastEventID) > maxEventID || strings.ContainsFunc(sr.lastEventID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return sr, invalid("Last-Event-ID", "not an event id of this server (at most %d printable characters)", maxEventID)
	}
	users, lines := q["user"], q["line"]
	if len(users)+len(lines) > h.cfg.Live.MaxTargets {
		return sr, invalid("user", "at most %d ?user= and ?line= together", h.cfg.Live.MaxTargets)
	}
	for _, u := range users {
		if err := checkID("user", u); err != nil {
			return sr, err
		}
	}
	for _, l := range lines {
		if err := checkNumber("line", l); err != nil {
			return sr, err
		}
		sr.explicitLines[l] = true
	}
	if m := q.Get("monitor"); m != "" && m != "true" && m != "false" {
		return sr, invalid("monitor", "%q: give true (default) or false", m)
	}
	sr.users = append([]string{c.id()}, users...)
	sr.lines = lines
	if q.Get("monitor") != "false" {
		if err := h.addMonitorTargets(&sr, c.id()); err != nil {
			return sr, err
		}
	}
	// The caller's own lines, and those of whom they ask for.
	for _, u := range append([]string{c.id()}, users...) {
		if err := h.addLinesOf(&sr, u); err != nil {
			return sr, err
		}
	}
	sr.users, sr.lines = dedupe(sr.users), nonNil(dedupe(sr.lines))
	return sr, nil
}

// addMonitorTargets adds the caller's monitor contacts and their lines.
func (h *Handler) addMonitorTargets(sr *streamRequest, me string) error {
	plan, err := h.planMonitor(me)
	if err != nil {
		return err
	}
	for _, u := range plan.contacts {
		sr.users = append(sr.users, u.Id)
		if err := h.addLinesOf(sr, u.Id); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) addLinesOf(sr *streamRequest, user string) error {
	lines, err := h.store.LinesOf(user)
	if err != nil {
		return err
	}
	for _, l := range lines {
		sr.lines = append(sr.lines, l.Number)
	}
	return nil
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	return slices.DeleteFunc(s, func(x string) bool {
		if seen[x] {
			return true
		}
		seen[x] = true
		return false
	})
}

// streamEvents serves GET /v1/events.
func (h *Handler) streamEvents(w http.ResponseWriter, r *http.Request, c *caller) error {
	select {
	case <-h.live.closing:
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, retryAfter: time.Second,
			msg: "the node is shutting down; connect to another node"}
	default:
	}
	sr, err := h.parseStream(r, c)
	if err != nil {
		return err
	}
	buffer := max(h.cfg.Live.EventBuffer, 2*(len(sr.users)+len(sr.lines)))
	s := h.cfg.Live.Events.Open(c.id(), buffer)
	defer func() {
		// The request's context is done when the client left: unwatch
		// with a context of our own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	}()
	st := &stream{h: h, w: w, rc: http.NewResponseController(w), c: c, id: newStreamID(), shown: map[string]bool{},
		recheck: make(chan struct{}, 1), groups: newGroupWake()}
	if st.access, err = h.accessOf(c, ticketParent(r.Context())); err != nil {
		return err
	}
	// Registered before the snapshot: a change of access from now on
	// reaches the stream; one since authentication is caught below.
	h.live.sessions.add(c.id(), st)
	defer h.live.sessions.remove(c.id(), st)
	if st.stillSignedIn() != "" {
		return errBadCredentials
	}
	snap, err := h.watchAll(r.Context(), s, sr)
	if err != nil {
		return err
	}
	return st.run(r.Context(), s, sr, snap)
}

// snapshot is the state of every watched target when the stream starts.
type snapshot struct {
	users []LiveEvent
	lines []LiveEvent
}

// watchAll registers s with every target's grain, at most Parallel at
// once. An unknown explicit target fails the request (404), as does an
// explicit line that shows nothing; a monitor contact or line deleted
// meanwhile is skipped.
func (h *Handler) watchAll(ctx context.Context, s EventSession, sr streamRequest) (snapshot, error) {
	snap := snapshot{users: make([]LiveEvent, len(sr.users)), lines: make([]LiveEvent, len(sr.lines))}
	err := forEach(ctx, h.cfg.Live.Parallel, len(sr.users)+len(sr.lines), func(ctx context.Context, i int) error {
		if i < len(sr.users) {
			p, err := s.WatchUser(ctx, sr.users[i])
			if errors.Is(err, ErrLiveNotFound) {
				return notFound("user", sr.users[i])
			}
			snap.users[i] = LiveEvent{Target: sr.users[i], Presence: &p}
			return err
		}
		number := sr.lines[i-len(sr.users)]
		l, err := s.WatchLine(ctx, number)
		if errors.Is(err, ErrLiveNotFound) || errors.Is(err, ErrLiveForbidden) || (err == nil && l.ShowsNothing() && sr.explicitLines[number]) {
			return errLineHidden(number)
		}
		snap.lines[i-len(sr.users)] = LiveEvent{Target: number, Line: &l}
		return err
	})
	return snap, err
}

// stream writes one event stream.
type stream struct {
	h   *Handler
	w   http.ResponseWriter
	rc  *http.ResponseController
	c   *caller
	id  string
	seq uint64
	// shown marks the lines the client was shown something of: a line
	// that shows nothing is sent only to take back what was shown.
	shown map[string]bool
	// buf holds the events written since the last flush: a batch of
	// events goes out in one write.
	buf []byte
	// access is what the stream was opened with; recheck asks the stream
	// to check it again (sessions.go).
	access  access
	recheck chan struct{}
	// groups are the call groups whose availability changed since the
	// stream last sent it (availabilityevents.go).
	groups groupWake
}

func newStreamID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

func (st *stream) run(ctx context.Context, s EventSession, sr streamRequest, snap snapshot) error {
	// The server's ReadTimeout would otherwise cancel a stream after a
	// minute (net/http's background read fails on the deadline).
	if err := st.rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	hdr := st.w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	st.w.WriteHeader(http.StatusOK)
	st.buf = append(st.buf, "retry: 2000\n\n"...)
	hello := helloJSON{Stream: st.id, Resumed: sr.lastEventID != "", LastEventID: sr.lastEventID,
		Users: sr.users, Lines: sr.lines}
	st.send("hello", hello)
	for _, ev := range append(snap.users, snap.lines...) {
		st.event(ev)
	}
	st.send("ready", struct{}{})
	if err := st.flush(); err != nil {
		return nil // the client left
	}
	return st.loop(ctx, s)
}

// maxBatch bounds the events written in one batch, so that a stream's
// buffer stays small however far behind it is.
const maxBatch = 64

// loop forwards the session's events until the stream must end. The
// events pending when the stream wakes go out together: one write and
// one flush per batch, not per event.
func (st *stream) loop(ctx context.Context, s EventSession) error {
	tick := time.NewTicker(st.h.cfg.Live.KeepAlive)
	defer tick.Stop()
	events := s.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-st.h.live.closing:
			st.end("shutdown")
			return nil
		case ev, ok := <-events:
			if !ok {
				st.end(map[bool]string{true: "lagged", false: "closed"}[s.Lagged()])
				return nil
			}
			st.event(ev)
			st.pending(events)
		case <-st.recheck:
			if reason := st.stillSignedIn(); reason != "" {
				st.end(reason)
				return nil
			}
		case <-st.groups.wake:
			st.sendAvailability()
		case <-tick.C:
			if reason := st.stillSignedIn(); reason != "" {
				st.end(reason)
				return nil
			}
			st.buf = append(st.buf, ": keep-alive\n\n"...)
		}
		if err := st.flush(); err != nil {
			return nil // the client left
		}
	}
}

// pending adds the events already waiting in events to the batch, up to
// maxBatch in all; a closed channel is left for loop to see.
func (st *stream) pending(events <-chan LiveEvent) {
	for range maxBatch - 1 {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			st.event(ev)
		default:
			return
		}
	}
}

// flush writes the batch and flushes it to the client.
func (st *stream) flush() error {
	if len(st.buf) > 0 {
		_, err := st.w.Write(st.buf)
		// Keep a small buffer for the next batch; a snapshot's large
		// one goes.
		if cap(st.buf) > 64<<10 {
			st.buf = nil
		} else {
			st.buf = st.buf[:0]
		}
		if err != nil {
			return err
		}
	}
	return st.rc.Flush()
}

// stillSignedIn checks the stream's access again: a stream does not
// outlive its user, their password or roles, or the token it was opened
// with. It answers the reason to end, or "".
func (st *stream) stillSignedIn() string {
	if err := st.h.accessHolds(st.access); err != nil {
		st.h.cfg.Logger.Debug("event stream ends: access changed", "user", st.c.id(), "stream", st.id, "why", err)
		st.h.m.streamsEnded.WithLabelValues(endReason(err)).Inc()
		return "signed_out"
	}
	return ""
}

type helloJSON struct {
	Stream      string   `json:"stream"`
	Resumed     bool     `json:"resumed"`
	LastEventID string   `json:"last_event_id"`
	Users       []string `json:"users"`
	Lines       []string `json:"lines"`
}

// presenceEventJSON is the data of a "presence" event.
type presenceEventJSON struct {
	User string `json:"user"`
	presenceStateJSON
}

// event adds one presence, line or chat event to the batch; a line that
// shows nothing is sent only when it showed something before.
func (st *stream) event(ev LiveEvent) {
	if ev.Line != nil && ev.Chat == nil && ev.Presence == nil {
		nothing := ev.Line.ShowsNothing()
		if nothing && !st.shown[ev.Target] {
			return
		}
		st.shown[ev.Target] = !nothing
	}
	if ev.enc != nil {
		st.add(ev.enc.bytes(ev))
		return
	}
	if b := encodeEvent(ev); b != nil {
		st.add(b)
	}
}

func (st *stream) end(reason string) {
	st.send("end", map[string]string{"reason": reason})
	// The client is leaving anyway if this fails.
	_ = st.flush()
}

// send adds an event of the stream's own (hello, ready, end).
func (st *stream) send(event string, data any) {
	st.add(appendEvent(nil, event, data))
}

// add adds an encoded event (its "event:" and "data:" lines) to the
// batch under the stream's next id.
func (st *stream) add(encoded []byte) {
	st.seq++
	st.buf = append(st.buf, "id: "...)
	st.buf = append(st.buf, st.id...)
	st.buf = append(st.buf, '-')
	st.buf = strconv.AppendUint(st.buf, st.seq, 10)
	st.buf = append(st.buf, '\n')
	st.buf = append(st.buf, encoded...)
}

// sharedEncoding is the encoding of an event delivered to many streams
// (LiveEvent.ShareEncoding), made by the first stream that writes it.
type sharedEncoding struct {
	once sync.Once
	b    []byte
}

func (e *sharedEncoding) bytes(ev LiveEvent) []byte {
	e.once.Do(func() { e.b = encodeEvent(ev) })
	return e.b
}

// encodeEvent encodes a presence, line or chat event (nil for an event
// of none of these kinds). It depends on the event only, never on the
// stream, so that streams can share it.
func encodeEvent(ev LiveEvent) []byte {
	switch {
	case ev.Presence != nil:
		return appendEvent(nil, "presence", presenceEventJSON{User: ev.Target, presenceStateJSON: presenceStateOut(*ev.Presence)})
	case ev.Chat != nil:
		return appendEvent(nil, "chat", chatMessageOut(ev.Chat))
	case ev.Line != nil:
		l := *ev.Line
		l.Number = ev.Target
		if l.ShowsNothing() {
			l = actors.LineView{View: linestate.View{Number: ev.Target}}
		}
		return appendEvent(nil, "line", lineStateOut(l))
	}
	return nil
}

// appendEvent appends the "event:" and "data:" lines of an event.
func appendEvent(b []byte, event string, data any) []byte {
	js, err := json.Marshal(data)
	if err != nil {
		// Only our own plain structs reach here.
		panic(fmt.Sprintf("api: event %s: %v", event, err))
	}
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, js...)
	return append(b, "\n\n"...)
}
