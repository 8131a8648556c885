package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// LiveConfig configures the routes served from the grains besides
// presence: line state, the monitor and the event stream. A nil service
// leaves its routes unserved (404).
type LiveConfig struct {
	// Lines serves GET /v1/lines/{number}/state and the monitor's lines.
	// Default nil.
	Lines LineService
	// Events opens event sessions on this node's session hub for
	// GET /v1/events. It needs Presence and Lines as well. Default nil.
	Events EventHub
	// KeepAlive is how often an idle event stream sends a comment line.
	// Default 25s: below the 30–60 s idle timeouts of common proxies and
	// load balancers, and each costs a few bytes.
	KeepAlive time.Duration
	// EventBuffer is how many undelivered events a stream may hold before
	// it is ended as lagged (the client reconnects and gets a fresh
	// snapshot). Default 256, raised to twice the number of watched
	// targets: a snapshot never overflows it on its own.
	EventBuffer int
	// Parallel bounds the grain requests one monitor or stream start sends
	// at once. Default 8: enough to hide the round trip, small enough that
	// one large monitor does not crowd out the other requests.
	Parallel int
	// MaxTargets bounds the explicit ?user= and ?line= of one stream.
	// Default 200.
	MaxTargets int
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default. HandlerConfig.WithDefaults calls it.
func (c LiveConfig) WithDefaults() LiveConfig {
	setDefault(&c.KeepAlive, 25*time.Second)
	setDefault(&c.EventBuffer, 256)
	setDefault(&c.Parallel, 8)
	setDefault(&c.MaxTargets, 200)
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field. That Events needs
// Presence and Lines is HandlerConfig.Validate's to check.
func (c LiveConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.KeepAlive < 0:
		return configError("LiveConfig.KeepAlive", "%v is negative", c.KeepAlive)
	case c.EventBuffer < 1:
		return configError("LiveConfig.EventBuffer", "%d, must be at least 1", c.EventBuffer)
	case c.Parallel < 1:
		return configError("LiveConfig.Parallel", "%d, must be at least 1", c.Parallel)
	case c.MaxTargets < 1:
		return configError("LiveConfig.MaxTargets", "%d, must be at least 1", c.MaxTargets)
	}
	return nil
}

// EventHub is the node's session hub seen from the API: one session per
// event stream. HubEvents is it over actors.Hub; the grains
// filter every event by the session viewer's rights before it reaches
// the session.
//
// Concurrency contract: Open may be called from many goroutines; one
// session is used by one goroutine (its stream), except that Close may
// run concurrently with nothing else of that session.
type EventHub interface {
	// Open creates a session of viewer with room for buffer undelivered
	// events.
	Open(viewer string, buffer int) EventSession
}

// EventSession is one stream's registration with the grains.
type EventSession interface {
	// Events delivers the session's events in order; it is closed when the
	// session is closed or lagged.
	Events() <-chan LiveEvent
	// WatchUser registers the session for target's presence and returns it
	// as the viewer sees it now. Refusals wrap ErrLiveNotFound or
	// ErrLiveForbidden.
	WatchUser(ctx context.Context, target string) (PresenceState, error)
	// WatchLine registers the session for the line's state and returns it
	// as the viewer sees it now.
	WatchLine(ctx context.Context, number string) (actors.LineView, error)
	// Lagged reports whether Events was closed because the buffer
	// overflowed.
	Lagged() bool
	// Close unregisters the session from every grain it watched; ctx
	// bounds the wait.
	Close(ctx context.Context)
}

// LiveEvent is one change as the session's viewer may see it: a user's
// presence (Presence set, Target the user id) or a line's state (Line set,
// Target the line number).
type LiveEvent struct {
	Target   string
	Presence *PresenceState
	Line     *actors.LineView
	// Chat is a chat message to or from the viewer (Target the other user).
	Chat *dirpb.ChatMessage

	// enc, when set, is the encoding shared by every copy of the event
	// (ShareEncoding).
	enc *sharedEncoding
}

// ShareEncoding returns ev marked to be encoded once for every stream it
// is delivered to: its copies share one encoding (the "event:" and
// "data:" lines; each stream adds its own event id). Give the copies only
// to sessions whose viewers may see exactly this event, and change none
// of its fields afterwards.
func (ev LiveEvent) ShareEncoding() LiveEvent {
	ev.enc = &sharedEncoding{}
	return ev
}

// PresenceState is a presence with whether the viewer may see it at all.
type PresenceState struct {
	Visible bool
	View    presence.View
}

// liveRuntime is the state of the live routes: the streams to end when the
// server shuts down.
type liveRuntime struct {
	mu      sync.Mutex
	closing chan struct{}
	closed  bool
	// sessions are the open streams, ended when their access ends.
	sessions *sessions
}

func newLiveRuntime() *liveRuntime {
	return &liveRuntime{closing: make(chan struct{}), sessions: newSessions()}
}

// endStreams makes every event stream end; new ones are refused (503).
func (l *liveRuntime) endStreams() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.closing)
	}
}

// errLiveNeeds is returned by HandlerConfig.Validate when Live.Events
// lacks its partners.
var errLiveNeeds = errors.New("api: HandlerConfig.Live.Events needs Presence and Live.Lines")

func (h *Handler) liveRoutes() {
	h.live = newLiveRuntime()
	if h.cfg.Live.Lines != nil {
		h.mux.HandleFunc("GET /v1/lines/{number}/state", h.wrap(h.getLineState))
	}
	if h.cfg.Presence != nil && h.cfg.Live.Lines != nil {
		h.mux.HandleFunc("GET /v1/monitor", h.wrap(h.getMonitor))
	}
	if h.cfg.Live.Events != nil {
		h.mux.HandleFunc("POST /v1/events/tickets", h.wrap(h.createTicket))
		h.mux.HandleFunc("GET /v1/events", h.queryToken(h.ticketAuth(h.wrap(h.streamEvents))))
		// The feed closes when the directory does.
		changes, _ := h.dir.Subscribe(sessionFeedBuffer)
		h.live.sessions.groupUsers = h.groupUsers
		go h.live.sessions.follow(changes)
	}
}

// EndStreams ends every open event stream (clients reconnect elsewhere)
// and refuses new ones: call it when the node shuts down, before waiting
// for open requests.
func (h *Handler) EndStreams() { h.live.endStreams() }
