package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Event-stream tickets stand in for a token in a URL (GET
// /v1/events?ticket=), where browsers' EventSource cannot send headers.
// A ticket is a bearer-token record of the directory, like a token, so
// that it works on every node: a load balancer may send the POST that
// makes it and the GET that uses it to different nodes. It is made of
//
//	ucgt_INDEX.PARENT.SECRET
//
// INDEX is the Raft index of its record (the node that redeems it first
// waits until it applied that index), PARENT the base64url SHA-256 of the
// token it was made from ("-" when made with a password), SECRET 32
// random bytes. Only the SHA-256 of PARENT.SECRET is stored, so PARENT
// cannot be changed; INDEX is a hint (a wrong one only makes the ticket
// fail). Redeeming deletes the record through Raft:
// exactly one redemption succeeds, on whichever node. A ticket cannot be
// used as a bearer token (another prefix) nor a token as a ticket.

// TicketPrefix starts every ticket.
const TicketPrefix = "ucgt_"

// TicketTTL is how long a ticket can be redeemed: long enough for a
// browser to open the stream, short enough that one read from a log
// is stale.
const TicketTTL = 30 * time.Second

// TooManyTicketsError refuses a ticket while its user holds
// Config.MaxTicketsPerUser live ones. errors.Is(err, ErrTooManyTickets).
type TooManyTicketsError struct {
	// Max is the cap; RetryAt is when the oldest live ticket expires (zero
	// when unknown).
	Max     int
	RetryAt time.Time
}

// ErrTooManyTickets is the sentinel of TooManyTicketsError.
var ErrTooManyTickets = errors.New("tokens: too many live event-stream tickets")

func (e *TooManyTicketsError) Error() string {
	return fmt.Sprintf("%v: at most %d per user", ErrTooManyTickets, e.Max)
}

// Is makes errors.Is(err, ErrTooManyTickets) true.
func (e *TooManyTicketsError) Is(target error) bool { return target == ErrTooManyTickets }

// Ticket is a redeemed ticket.
type Ticket struct {
	User string
	// Parent is the SHA-256 of the token the ticket was made from; nil
	// for a ticket made with a password. A stream opened with the ticket
	// ends with that token.
	Parent []byte
}

// IssueTicket makes a ticket for user, valid for TicketTTL from now and
// never beyond notAfter (the parent token's expiry; zero = none). parent
// is the SHA-256 of the token the request came with, or nil. Tickets have
// their own per-user cap (Config.MaxTicketsPerUser) and never push out
// the user's tokens; past it, a *TooManyTicketsError.
func (s *Store) IssueTicket(ctx context.Context, user string, parent []byte, now, notAfter time.Time) (string, time.Time, uint64, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", time.Time{}, 0, fmt.Errorf("tokens: random: %w", err)
	}
	expires := now.Add(TicketTTL)
	if !notAfter.IsZero() && notAfter.Before(expires) {
		expires = notAfter
	}
	body := ticketBody(parent, secret[:])
	d := sha256.Sum256([]byte(body))
	rec := &dirpb.BearerToken{Digest: d[:], User: user, IssuedUnixMs: now.UnixMilli(), ExpiresUnixMs: expires.UnixMilli(), Ticket: true}
	cmd := &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{Token: rec,
		MaxPerUser: int32(s.cfg.MaxPerUser), MaxTicketsPerUser: int32(s.cfg.MaxTicketsPerUser)}}}
	index, err := s.dir.Apply(ctx, cmd)
	var ce *persistence.CommandError
	if errors.As(err, &ce) && errors.Is(err, persistence.ErrLimit) {
		return "", time.Time{}, 0, &TooManyTicketsError{Max: s.cfg.MaxTicketsPerUser, RetryAt: s.oldestTicketExpiry(user, now)}
	}
	if err != nil {
		return "", time.Time{}, 0, fmt.Errorf("tokens: ticket for user=%q: %w", user, err)
	}
	return TicketPrefix + strconv.FormatUint(index, 10) + "." + body, expires, index, nil
}

// oldestTicketExpiry is when the first of user's live tickets expires,
// in this node's copy (zero when none is known here).
func (s *Store) oldestTicketExpiry(user string, now time.Time) time.Time {
	tks, err := s.dir.Store().TokensOf(user)
	if err != nil {
		return time.Time{}
	}
	var first int64
	for _, tk := range tks {
		if tk.Ticket && tk.ExpiresUnixMs > now.UnixMilli() && (first == 0 || tk.ExpiresUnixMs < first) {
			first = tk.ExpiresUnixMs
		}
	}
	if first == 0 {
		return time.Time{}
	}
	return time.UnixMilli(first)
}

// ticketBody is PARENT.SECRET, the part of a ticket its digest covers
// ('.' is not in the base64url alphabet).
func ticketBody(parent, secret []byte) string {
	p := "-"
	if parent != nil {
		p = base64.RawURLEncoding.EncodeToString(parent)
	}
	return p + "." + base64.RawURLEncoding.EncodeToString(secret)
}

// RedeemTicket uses a ticket up: it answers who it was made for once,
// and ErrUnknown for a malformed, unknown, expired or used ticket, or
// one whose parent token ended. wait bounds the wait for the ticket's
// record to reach this node.
func (s *Store) RedeemTicket(ctx context.Context, ticket string, now time.Time, wait time.Duration) (Ticket, error) {
	index, parent, d, ok := parseTicket(ticket)
	if !ok {
		return Ticket{}, ErrUnknown
	}
	if index > s.dir.Applied() {
		wctx, cancel := context.WithTimeout(ctx, wait)
		err := s.dir.WaitApplied(wctx, index)
		cancel()
		if err != nil {
			return Ticket{}, fmt.Errorf("tokens: ticket of index %d not applied here yet: %w", index, err)
		}
	}
	rec, err := s.CheckDigest(d, now)
	if err != nil {
		return Ticket{}, err
	}
	cmd := &dirpb.Command{Op: &dirpb.Command_RevokeToken{RevokeToken: &dirpb.RevokeToken{Digest: d}}}
	if _, err := s.dir.Apply(ctx, cmd); err != nil {
		var ce *persistence.CommandError
		if errors.As(err, &ce) && errors.Is(err, persistence.ErrNotFound) {
			return Ticket{}, ErrUnknown // redeemed meanwhile, here or elsewhere
		}
		return Ticket{}, fmt.Errorf("tokens: redeem ticket: %w", err)
	}
	if parent != nil {
		if _, err := s.CheckDigest(parent, now); err != nil {
			return Ticket{}, err
		}
	}
	return Ticket{User: rec.User, Parent: parent}, nil
}

// parseTicket splits a ticket; d is the digest of its record.
func parseTicket(ticket string) (index uint64, parent, d []byte, ok bool) {
	rest, found := strings.CutPrefix(ticket, TicketPrefix)
	if !found || len(ticket) > 160 {
		return 0, nil, nil, false
	}
	ix, body, found := strings.Cut(rest, ".")
	if !found {
		return 0, nil, nil, false
	}
	index, err := strconv.ParseUint(ix, 10, 64)
	if err != nil || index == 0 {
		return 0, nil, nil, false
	}
	p, secret, found := strings.Cut(body, ".")
	if !found || len(secret) != base64.RawURLEncoding.EncodedLen(32) {
		return 0, nil, nil, false
	}
	if p != "-" {
		if parent, err = base64.RawURLEncoding.DecodeString(p); err != nil || len(parent) != sha256.Size {
			return 0, nil, nil, false
		}
	}
	sum := sha256.Sum256([]byte(body))
	return index, parent, sum[:], true
}
