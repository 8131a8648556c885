package sip

import (
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The node holding a NATed phone's flow relays the requests other nodes
// route to that phone (RFC 3327 Path, RFC 5626 §5.3 flow tokens): their
// top Route names this node with a flow token in its user part
// (sip:TOKEN@node;lr). A token this node did not sign is refused (403)
// and the request goes nowhere. Towards the phone, a request goes over
// the flow the token names; an INVITE is Record-Routed with a token for
// its dialog (flowToken), so the dialog's later requests pass here too,
// and a party of the dialog cannot start other calls with it. From the phone (the
// request comes from the flow's address), only requests of dialogs this
// node relayed an INVITE for go on, to their next Route.

// flowDialogs are the Call-IDs of the INVITEs relayed to a flow, for the
// phone's in-dialog requests back. Entries are forgotten after
// flowDialogTTL (a dialog lasting longer loses its phone-side requests
// through this node; its other side still works).
type flowDialogs struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const flowDialogTTL = 12 * time.Hour

func (d *flowDialogs) add(id string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]time.Time{}
	}
	for k, at := range d.m {
		if now.Sub(at) > flowDialogTTL {
			delete(d.m, k)
		}
	}
	d.m[id] = now
}

func (d *flowDialogs) has(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.m[id]
	return ok && now.Sub(at) <= flowDialogTTL
}

func (d *flowDialogs) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, id)
}

// onFlowRoute handles a request whose top Route carries a flow token for
// this node, and reports whether it did (false: not such a request).
func (s *Server) onFlowRoute(req *sip.Request, tx sip.ServerTransaction) bool {
	source, ok, valid := s.flowOf(req)
	if !ok {
		return false
	}
	transport, addr, _ := strings.Cut(source, ":")
	fromPhone := valid && req.Source() == addr && strings.EqualFold(req.Transport(), transport)
	var fwd *sip.Request
	switch {
	case !valid || req.Method == sip.REGISTER:
		s.refuseFlow(req, tx, "Invalid Flow Token")
		return true
	case fromPhone:
		fwd = s.fromFlow(req)
	default:
		fwd = s.toFlow(req, transport, addr)
	}
	if fwd == nil {
		s.refuseFlow(req, tx, "Forbidden")
		return true
	}
	s.relayFlow(req, tx, fwd)
	return true
}

// refuseFlow answers 403 (an ACK gets nothing), counts and logs it once
// a minute per source.
func (s *Server) refuseFlow(req *sip.Request, tx sip.ServerTransaction, reason string) {
	s.m.flowRefused.Inc()
	if src := sourceIP(req); s.logOnce.allow("flow:"+src, time.Now()) {
		s.log.Warn("sip: request through a flow token refused (further ones from this source are not logged for a minute)",
			"method", methodLabel(req.Method), "source", src, "reason", reason)
	}
	if !req.IsAck() {
		s.respond(tx, req, sip.StatusForbidden, reason)
	}
}

// toFlow is req relayed to the phone at the flow (transport, addr): an
// INVITE starting a dialog, or a request of a dialog. nil: refused (a
// request starting anything else, a closed TCP or TLS flow).
func (s *Server) toFlow(req *sip.Request, transport, addr string) *sip.Request {
	initial := !hasToTag(req)
	if initial && req.Method != sip.INVITE {
		return nil
	}
	fwd, ok := s.relayRequest(req)
	if !ok {
		return nil
	}
	fwd.Laddr = sip.Addr{}
	if reliable(transport) {
		if !s.connOpen(transport, addr) {
			return nil
		}
		fwd.SetTransport(strings.ToUpper(transport))
		fwd.SetDestination(addr)
	} else {
		s.prepareOut(fwd, "UDP", addr)
	}
	if initial {
		s.addRecordRoutes(req, fwd, flowToken(s.flowKey, transport+":"+addr, callID(req)))
		s.flowCalls.add(callID(req), time.Now())
	}
	return fwd
}

// fromFlow is req, from the phone of a flow, relayed to its next Route:
// only within a dialog this node relayed the INVITE of. nil: refused.
func (s *Server) fromFlow(req *sip.Request) *sip.Request {
	if !hasToTag(req) || !s.flowCalls.has(callID(req), time.Now()) {
		return nil
	}
	if vs := routeValues(req); len(vs) < 2 {
		return nil // no next hop after us
	}
	fwd, ok := s.relayRequest(req)
	if !ok {
		return nil
	}
	return fwd
}

// relayFlow sends fwd on and its responses back (an ACK statelessly); a
// CANCEL of a relayed INVITE is passed on, a BYE ends the dialog's entry.
func (s *Server) relayFlow(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request) {
	if req.IsAck() {
		if err := s.client.WriteRequest(fwd, s.addVia); err != nil {
			s.log.Debug("sip: relay ack to flow", "err", err)
		}
		return
	}
	if req.IsInvite() {
		b := &branch{req: fwd, cancelled: make(chan struct{})}
		tx.OnCancel(func(*sip.Request) { s.sendCancel(b, "") })
	}
	dest := sip.NewResponseFromRequest(req, sip.StatusTrying, "", nil).Destination()
	ctx, cancel := s.transactionContext()
	defer cancel()
	final := s.relay(ctx, req, tx, fwd, dest)
	if req.Method == sip.BYE {
		s.flowCalls.remove(callID(req))
	}
	if final == nil {
		s.respond(tx, req, sip.StatusRequestTimeout, "Request Timeout")
	}
}
