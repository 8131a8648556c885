package sip

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// drainRetryAfter is the Retry-After of the 503 a draining server sends
// to requests that would start something new. A client that knows other
// servers of the domain (RFC 3263) tries the next one at once; the value
// only keeps clients that know no other away from this node for about
// as long as a restart takes.
const drainRetryAfter = 10 * time.Second

// drainPoll is how often Drain looks at the call table.
const drainPoll = 10 * time.Millisecond

// Drain is the first step of a graceful leave: the server stops taking
// new work — requests that would start a dialog, a registration or a
// transaction outside any dialog (INVITE, SUBSCRIBE, REGISTER, OPTIONS …
// without To tag) are answered 503 with Retry-After, so clients fail
// over to another node — and goes on serving what is under way:
// in-dialog requests (ACK, BYE, re-INVITE, NOTIFY, refreshes) and
// CANCELs of its calls. Ringing calls ring on until they are answered,
// cancelled or time out; connected calls end with their BYE, which
// passes through this node (Record-Route). Drain returns nil when the
// node holds no call any more, or an error when ctx ends first (the
// remaining calls are Shutdown's to end). Shutdown must follow.
func (s *Server) Drain(ctx context.Context) error {
	if s.closing.Load() {
		return nil
	}
	start := time.Now()
	first := s.draining.CompareAndSwap(false, true)
	if first {
		s.log.Info("sip: draining: new calls and registrations get 503", "calls", s.calls.len())
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		n := s.calls.len()
		if n == 0 {
			if first {
				s.log.Info("sip: drained", "took", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			s.log.Warn("sip: drain deadline passed; the remaining calls are ended", "calls", n)
			return fmt.Errorf("sip: drain: %d calls still open: %w", n, ctx.Err())
		}
	}
}

// Draining reports whether Drain (or Shutdown) has started.
func (s *Server) Draining() bool { return s.draining.Load() || s.closing.Load() }

// startsNew reports whether req would start something new on this node:
// a request outside any dialog (no To tag), other than an ACK or a
// CANCEL (those belong to a transaction under way).
func startsNew(req *sip.Request) bool {
	if req.IsAck() || req.IsCancel() {
		return false
	}
	return !hasToTag(req)
}

// refuseDraining answers a request that starts something new while the
// server drains: 503 with Retry-After (RFC 3261 §21.5.4).
func (s *Server) refuseDraining(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Shutting Down", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(drainRetryAfter/time.Second))))
	s.send(tx, res)
}
