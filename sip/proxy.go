package sip

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// party is who placed a call: an authenticated line, or a trunk.
type party struct {
	line  *dirpb.Line // nil for a trunk
	trunk string
	// number is what the called side is told (the line's number, or
	// the From user a trunk sent).
	number string
	// pickupOf is, for a picker's INVITE another node passed on with a
	// pickup grant (pickuppeer.go), the Call-ID of the call to pick up:
	// the INVITE may do nothing else. "" for every other call.
	pickupOf string
}

// onInvite handles an INVITE: a re-INVITE inside a dialog is relayed;
// a new call is authorised (trunk source or digest, 407) and run to its
// final response. The handler blocks for the life of the INVITE server
// transaction, as sipgo requires.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		s.onInDialog(req, tx)
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() <= 1 {
		s.respond(tx, req, sip.StatusTooManyHops, "Too Many Hops")
		return
	}
	if req.CallID() == nil || req.From() == nil || req.To() == nil || req.CSeq() == nil {
		s.respond(tx, req, sip.StatusBadRequest, "Missing Mandatory Header")
		return
	}
	caller, ok := s.identify(req, tx)
	if !ok {
		return
	}
	trying := sip.NewResponseFromRequest(req, sip.StatusTrying, "Trying", nil)
	s.send(tx, trying)
	c := s.newCall(req, tx, caller, trying.Destination())
	if c == nil {
		s.respond(tx, req, sip.StatusLoopDetected, "Loop Detected")
		return
	}
	c.run()
}

// identify finds who places the call: a trunk by its source address, or
// else the line whose digest credentials the request carries (407
// challenge first). It answers the request itself when it returns false.
func (s *Server) identify(req *sip.Request, tx sip.ServerTransaction) (party, bool) {
	from := ""
	if f := req.From(); f != nil {
		from = f.Address.User
	}
	if req.GetHeader(pickupHeader) != nil {
		return s.pickupPeer(req, tx)
	}
	if id, ok := s.trunkFor(sourceIP(req)); ok {
		return party{trunk: id, number: from}, true
	}
	line, err := s.authenticate(req, tx, proxyAuth)
	if err != nil {
		return party{}, false
	}
	return party{line: line, number: line.GetNumber()}, true
}

// trunkFor returns the trunk whose addresses include ip.
func (s *Server) trunkFor(ip string) (string, bool) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "", false
	}
	addr = addr.Unmap()
	trunks, err := s.cfg.Store.Trunks()
	if err != nil {
		s.log.Warn("sip: list trunks", "err", err)
		return "", false
	}
	for _, t := range trunks {
		if s.trunkAllows(t, addr) {
			return t.GetId(), true
		}
	}
	return "", false
}

// trunkAllows reports whether one of t's address ranges holds addr. A
// range too wide for persistence.CheckTrunkPrefix counts only with
// Config.AllowWideTrunks; otherwise it is ignored, with one WARN per
// trunk and range.
func (s *Server) trunkAllows(t *dirpb.Trunk, addr netip.Addr) bool {
	for _, a := range t.GetAddresses() {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			if one, aerr := netip.ParseAddr(a); aerr == nil {
				p = netip.PrefixFrom(one, one.BitLen())
			} else {
				continue
			}
		}
		if err := persistence.CheckTrunkPrefix(p, s.cfg.AllowWideTrunks); err != nil {
			s.warnWideTrunk(t.GetId(), p, err)
			continue
		}
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// warnWideTrunk logs a trunk range ignored as too wide, once per trunk
// and range for the server's life.
func (s *Server) warnWideTrunk(id string, p netip.Prefix, err error) {
	if _, seen := s.wideWarned.LoadOrStore(id+" "+p.String(), struct{}{}); seen {
		return
	}
	s.log.Warn("sip: trunk address range ignored: too wide (restrict the trunk, or start the node with --allow-wide-trunks)",
		"trunk", id, "range", p.String(), "err", err)
}

// destKind is what a dialled number names.
type destKind uint8

const (
	destNone destKind = iota
	destLine
	destGroup
)

// lookup resolves a dialled number to a line or a call group.
func (s *Server) lookup(number string) (destKind, *dirpb.Line, *dirpb.Group, error) {
	if number == "" {
		return destNone, nil, nil, nil
	}
	if l, err := s.cfg.Store.Line(number); err == nil {
		return destLine, l, nil, nil
	} else if !errors.Is(err, persistence.ErrNotFound) {
		return destNone, nil, nil, err
	}
	g, err := s.cfg.Store.GroupByNumber(number)
	if errors.Is(err, persistence.ErrNotFound) {
		return destNone, nil, nil, nil
	}
	if err != nil {
		return destNone, nil, nil, err
	}
	if !g.TakesSIPCalls() {
		return destNone, nil, nil, nil
	}
	return destGroup, nil, g, nil
}

// primaryLine is the number of user's primary line ("" when none).
func (s *Server) primaryLine(user string) string {
	l, err := s.cfg.Store.PrimaryLine(user)
	if err != nil {
		s.log.Warn("sip: lines of member", "err", err)
	}
	return l.GetNumber()
}

// ringLine is the number a group member rings on: their primary line
// while they are not disabled (persistence.Store.RingLine), else "".
func (s *Server) ringLine(user string) string {
	n, err := s.cfg.Store.RingLine(user)
	if err != nil {
		s.log.Warn("sip: line of member", "err", err)
	}
	return n
}

// inService reports whether line takes registrations and calls: its
// owner is not disabled (persistence.Store.InService). A directory error
// counts as out of service: refuse rather than ring a disabled user.
func (s *Server) inService(line *dirpb.Line) bool {
	ok, err := s.cfg.Store.InService(line)
	if err != nil {
		s.log.Warn("sip: owner of line", "err", err)
	}
	return ok
}

// backendCtx bounds one Backend call; it does not end with the caller's
// CANCEL, so reports of a call's end still arrive.
func (s *Server) backendCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(s.ctx), s.cfg.BackendTimeout)
}

// report sends line call progress to the Backend in the background;
// a failure is logged, the call goes on.
func (s *Server) report(line string, ev actors.CallEvent) {
	if line == "" {
		return
	}
	ev.At = time.Now()
	s.goTracked(func() {
		ctx, cancel := s.backendCtx()
		defer cancel()
		if err := s.cfg.Backend.LineCall(ctx, line, ev); err != nil {
			s.log.Debug("sip: report line call", "line", line, "err", err)
		}
	})
}

// ourURI reports whether u names this server (host and port).
func (s *Server) ourURI(u sip.Uri) bool {
	port := u.Port
	if port == 0 {
		port = 5060
		if uriTransport(u) == "TLS" {
			port = 5061
		}
	}
	if !s.addrs.ourPort(port) {
		return false
	}
	return strings.EqualFold(strings.Trim(u.Host, "[]"), s.cfg.Domain) || s.addrs.ourHost(u.Host)
}
