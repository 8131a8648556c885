package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/persistence"
)

// Event-stream tickets (api/tokens/tickets.go): POST /v1/events/tickets
// makes one, GET /v1/events?ticket= uses it up, on any node.

type ticketJSON struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createTicket makes a ticket for the caller. One made with a bearer
// token expires with it at the latest, and a stream opened with it ends
// when that token does.
func (h *Handler) createTicket(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	defer cancel()
	var parent []byte
	var notAfter time.Time
	if c.token != "" {
		t, err := h.auth.tokens.Check(c.token, h.cfg.Now())
		if err != nil {
			return errBadCredentials // ended since authentication
		}
		parent, _ = tokens.Digest(c.token) // checked above
		notAfter = t.ExpiresAt
	}
	ticket, expires, index, err := h.auth.tokens.IssueTicket(ctx, c.id(), parent, h.cfg.Now(), notAfter)
	if tm := (*tokens.TooManyTicketsError)(nil); errors.As(err, &tm) {
		return tooManyTickets(tm, h.cfg.Now())
	}
	if err != nil {
		return err
	}
	w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, ticketJSON{Ticket: ticket, ExpiresAt: expires.UTC()})
	return nil
}

// tooManyTickets answers 429 naming the cap, with Retry-After until the
// oldest live ticket expires.
func tooManyTickets(e *tokens.TooManyTicketsError, now time.Time) *apiError {
	wait := time.Second
	if !e.RetryAt.IsZero() && e.RetryAt.Sub(now) > wait {
		wait = e.RetryAt.Sub(now)
	}
	return &apiError{status: http.StatusTooManyRequests, code: codeThrottled, retryAfter: wait,
		msg: fmt.Sprintf("ticket: you hold %d unused event-stream tickets, the most allowed (max_tickets_per_user); use one, or wait until one expires", e.Max)}
}

// ticketWait bounds how long a node waits for a ticket's record to
// arrive (replication lag is milliseconds): a request with a made-up
// index is not held long before it is refused.
const ticketWait = time.Second

var errBadTicket = &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
	msg: "ticket: unknown, expired or already used; get a new one from POST /v1/events/tickets"}

type ticketParentKey struct{}

// ticketParent is the SHA-256 of the token the stream's ticket was made
// from (nil: none, or no ticket).
func ticketParent(ctx context.Context) []byte {
	p, _ := ctx.Value(ticketParentKey{}).([]byte)
	return p
}

// ticketAuth authenticates GET /v1/events?ticket=: the ticket is used
// up, and the request goes on as its user's.
func (h *Handler) ticketAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ticket := r.URL.Query().Get("ticket")
		if ticket == "" {
			next(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			h.fail(w, r, invalid("ticket", "give either ?ticket= or the Authorization header, not both"))
			return
		}
		now, addr := h.cfg.Now(), h.cfg.clientAddr(r)
		if wait := h.auth.byAddr.Wait(addr, now); wait > 0 {
			h.fail(w, r, throttled(wait))
			return
		}
		c, parent, err := h.redeem(r.Context(), ticket)
		if errors.Is(err, errBadTicket) {
			h.auth.byAddr.Fail(addr, now) // like a bad bearer token
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		index, raw, err := requestIndex(r)
		if err == nil && index > 0 {
			err = h.awaitIndex(r.Context(), index, raw)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		c.index = index
		h.readIndex(w)
		r = r.WithContext(context.WithValue(r.Context(), ticketParentKey{}, parent))
		if err := h.streamEvents(w, r, c); err != nil {
			h.fail(w, r, err)
		}
	}
}

// redeem uses a ticket up and returns its user as the caller.
func (h *Handler) redeem(ctx context.Context, ticket string) (*caller, []byte, error) {
	now := h.cfg.Now()
	t, err := h.auth.tokens.RedeemTicket(ctx, ticket, now, min(h.cfg.ReadWait, ticketWait))
	if errors.Is(err, tokens.ErrUnknown) {
		return nil, nil, errBadTicket
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, nil, &apiError{status: http.StatusServiceUnavailable, code: codeIndexNotYet, retryAfter: time.Second,
			msg: "this node has not yet applied the ticket; retry, or connect to another node"}
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := h.store.User(t.User)
	if errors.Is(err, persistence.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, nil, errBadTicket
	}
	if err != nil {
		return nil, nil, err
	}
	c, err := h.auth.caller(u, "")
	return c, t.Parent, err
}
