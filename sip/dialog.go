package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// callTable holds this node's calls by Call-ID, from the INVITE until the
// BYE, so in-dialog requests find their call (line state, journal) and
// pickup finds ringing calls.
type callTable struct {
	mu   sync.Mutex
	byID map[string]*call
	// answers are the winning To tags of answered calls, for relaying
	// 2xx retransmissions.
	answers map[string]string
	// ended are the dialogs of answered calls that ended less than
	// completedLinger ago, for the caller's ACK handled after its BYE
	// (endedDialog); endedQ holds them in the order they ended.
	ended  map[string]endedDialog
	endedQ []endedDialog
}

// endedDialog is what relays the caller's ACK of an answered call that
// has ended: the dialog's tags, the caller's address, and where the
// callee is reached. A caller that hangs up at once sends ACK and BYE
// back to back (its CANCEL crossed the answer, RFC 3261 §15; or a
// forking proxy before us got two answers, §13.2.2.4), and this node
// handles each request on a goroutine of its own: the BYE may end the
// call before the ACK is looked up. It holds a few strings, not the call.
type endedDialog struct {
	id, fromTag, callerIP   string
	toTag, calleeIP         string
	transport, calleeTarget string
	at                      time.Time
}

func newCallTable() *callTable {
	return &callTable{byID: map[string]*call{}, answers: map[string]string{}, ended: map[string]endedDialog{}}
}

// add registers c; false when a call with its Call-ID runs already (a
// loop through this proxy).
func (t *callTable) add(c *call) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.byID[c.id]; dup {
		return false
	}
	t.byID[c.id] = c
	return true
}

func (t *callTable) answered(c *call, _ *branch, res *sip.Response) {
	tag := ""
	if to := res.To(); to != nil {
		tag, _ = to.Params.Get("tag")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answers[c.id] = tag
}

// remove takes c out of the table; the dialog of an answered call stays
// for completedLinger (endedDialog).
func (t *callTable) remove(c *call) {
	d, answered := c.dialog(time.Now())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID[c.id] == c {
		delete(t.byID, c.id)
		delete(t.answers, c.id)
		if answered {
			t.keepEnded(d)
		}
	}
}

// keepEnded adds d to the ended dialogs, forgetting those older than
// completedLinger.
func (t *callTable) keepEnded(d endedDialog) {
	for len(t.endedQ) > 0 && d.at.Sub(t.endedQ[0].at) > completedLinger {
		if old := t.endedQ[0]; t.ended[old.id].at.Equal(old.at) {
			delete(t.ended, old.id)
		}
		t.endedQ[0] = endedDialog{}
		t.endedQ = t.endedQ[1:]
	}
	t.ended[d.id] = d
	t.endedQ = append(t.endedQ, d)
}

// endedDialog returns the ended dialog ack, an ACK, belongs to: Call-ID,
// tags and source address the caller's, as dialogOf checks them.
func (t *callTable) endedDialog(ack *sip.Request, now time.Time) (endedDialog, bool) {
	if ack.From() == nil || ack.To() == nil {
		return endedDialog{}, false
	}
	from, _ := ack.From().Params.Get("tag")
	to, _ := ack.To().Params.Get("tag")
	t.mu.Lock()
	d, ok := t.ended[callID(ack)]
	t.mu.Unlock()
	if !ok || now.Sub(d.at) > completedLinger || from == "" || to == "" ||
		from != d.fromTag || to != d.toTag || sourceIP(ack) != d.callerIP {
		return endedDialog{}, false
	}
	return d, true
}

// dialog is c's dialog as endedDialog keeps it; false when c was not
// answered.
func (c *call) dialog(now time.Time) (endedDialog, bool) {
	c.mu.Lock()
	w := c.winner
	c.mu.Unlock()
	if w == nil {
		return endedDialog{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return endedDialog{id: c.id, fromTag: c.fromTag, callerIP: c.callerIP, toTag: w.toTag, calleeIP: w.peerIP,
		transport: w.req.Transport(), calleeTarget: w.req.Destination(), at: now}, true
}

func (t *callTable) get(id string) *call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

// len is the number of calls held (tests check that none leak).
func (t *callTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

func (t *callTable) all() []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*call, 0, len(t.byID))
	for _, c := range t.byID {
		out = append(out, c)
	}
	return out
}

// winnerTag is the To tag of the answer of call id ("" when none).
func (t *callTable) winnerTag(id string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tag, ok := t.answers[id]
	return tag, ok
}

// dialogOf returns the call whose dialog req belongs to (and the
// callee's branch when req goes to the callee), and only when
// req comes from one of the dialog's two parties: Call-ID, the caller's
// From tag and the callee's To tag (the answer's, or before the answer
// an early dialog's), in the order the direction asks — the caller sends
// From=caller tag, To=callee tag; the callee the reverse — and the
// request's source address is that party's (the caller's INVITE came
// from it, or the callee's responses did). Anything else is nil: a
// request naming no dialog this node carries is never relayed.
func (s *Server) dialogOf(req *sip.Request) (*call, *branch) {
	c := s.calls.get(callID(req))
	if c == nil || req.From() == nil || req.To() == nil {
		return nil, nil
	}
	from, _ := req.From().Params.Get("tag")
	to, _ := req.To().Params.Get("tag")
	if from == "" || to == "" {
		return nil, nil
	}
	src := sourceIP(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished && !req.IsAck() { // an ACK may be handled after the BYE that followed it
		return nil, nil
	}
	sides := c.branches
	if c.winner != nil {
		sides = []*branch{c.winner}
	}
	for _, b := range sides {
		b.mu.Lock()
		tag, ip := b.toTag, b.peerIP
		b.mu.Unlock()
		if tag == "" {
			continue
		}
		if from == c.fromTag && to == tag && src == c.callerIP {
			return c, b // caller → callee (b)
		}
		if from == tag && to == c.fromTag && src == ip {
			return c, nil // callee → caller
		}
	}
	return nil, nil
}

// toParty pins fwd, a request of c's dialog, to the party it is for:
// the callee of branch callee (non-nil), or the caller. Over TCP or TLS
// it goes over that party's connection (a phone is reached where it is,
// not by dialling its Contact). Over UDP it goes where its Route or
// Request-URI says only when that is the party's address; otherwise to
// the address the party spoke from. A party of a dialog cannot make this
// node send its requests to a third host by writing one into them.
func (s *Server) toParty(fwd *sip.Request, c *call, callee *branch) {
	transport, dest, ip := c.req.Transport(), c.req.Source(), c.callerIP
	if callee != nil {
		callee.mu.Lock()
		ip = callee.peerIP
		callee.mu.Unlock()
		transport, dest = callee.req.Transport(), callee.req.Destination()
	} else if !reliable(transport) {
		dest = c.resDest
	}
	s.pinTo(fwd, transport, dest, ip)
}

// pinTo sends fwd to a party of its dialog reached over transport at
// dest, whose address is ip (toParty).
func (s *Server) pinTo(fwd *sip.Request, transport, dest, ip string) {
	if !reliable(transport) && strings.EqualFold(fwd.Transport(), "UDP") && hostOf(fwd.Destination()) == ip {
		return // the party's own address, as its URI gives it
	}
	fwd.Laddr = sip.Addr{}
	s.prepareOut(fwd, strings.ToUpper(transport), dest)
}

// asSeenBy gives fwd, a request of c's dialog relayed to the callee of
// branch callee (non-nil) or to the caller, the URIs that party knows the
// dialog by. A call out through a trunk shows the upstream another From
// than the caller's (trunkRequest: the caller's public number at the
// trunk's domain, or anonymous), and the URIs of a dialog do not change
// inside it (RFC 3261 §12.2.1.1): the caller's requests go to the
// upstream with the From of the branch's INVITE, the upstream's come to
// the caller with the caller's own From as To. Their responses are put
// back the other way by relay. Other calls keep their From: nothing
// changes.
func (s *Server) asSeenBy(fwd *sip.Request, c *call, callee *branch) {
	b := callee
	if b == nil {
		c.mu.Lock()
		b = c.winner
		c.mu.Unlock()
	}
	own := c.req.From()
	if b == nil || own == nil {
		return
	}
	b.mu.Lock()
	out := b.req.From()
	b.mu.Unlock()
	if out == nil || (out.DisplayName == own.DisplayName && out.Address.String() == own.Address.String()) {
		return
	}
	if callee != nil {
		if from := fwd.From(); from != nil {
			presentAs(&from.DisplayName, &from.Address, out.DisplayName, out.Address)
		}
	} else if to := fwd.To(); to != nil {
		presentAs(&to.DisplayName, &to.Address, own.DisplayName, own.Address)
	}
}

// presentAs sets the name and URI of a From or To header, given by
// pointers to its fields; its tag and other parameters stay.
func presentAs(name *string, addr *sip.Uri, toName string, toAddr sip.Uri) {
	*name, *addr = toName, *toAddr.Clone()
}

// refuseDialog counts an in-dialog request naming no dialog of ours,
// and logs it once per source address per minute (a relay attempt is
// worth a line; a flood of them is not worth more).
func (s *Server) refuseDialog(req *sip.Request) {
	s.m.dialogRefused.WithLabelValues(methodLabel(req.Method)).Inc()
	src := sourceIP(req)
	if s.logOnce.allow("dialog:"+src, time.Now()) {
		s.log.Warn("sip: in-dialog request for no dialog of this node refused (further ones from this source are not logged for a minute)",
			"method", methodLabel(req.Method), "source", src)
	}
}

// onInDialog relays a request inside a dialog this node carries (BYE,
// re-INVITE, UPDATE, INFO, REFER, NOTIFY, …; dialogOf): our Route is
// removed and the request goes to the next Route or its Request-URI,
// statefully; its responses go back. A BYE ends the call. A request
// naming no dialog of ours gets 481 and goes nowhere; one outside any
// dialog (no To tag) that we do not serve gets 405.
func (s *Server) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if !hasToTag(req) {
		res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE"))
		s.send(tx, res)
		return
	}
	c, callee := s.dialogOf(req)
	if c == nil || !s.isRoutedThrough(req) {
		s.refuseDialog(req)
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if req.Method == sip.REFER && s.refuseRefer(req, tx, c, callee) {
		return
	}
	fwd, ok := s.relayRequest(req)
	if !ok {
		s.respond(tx, req, sip.StatusTooManyHops, "Too Many Hops")
		return
	}
	s.toParty(fwd, c, callee)
	shiftCSeq(fwd, callee)
	s.asSeenBy(fwd, c, callee)
	dest := sip.NewResponseFromRequest(req, sip.StatusTrying, "", nil).Destination()
	ctx, cancel := s.transactionContext()
	defer cancel()
	target := s.referRelaying(req, c, callee)
	final := s.relay(ctx, req, tx, fwd, dest)
	s.referRelayed(req, final, c, callee, target)
	if req.Method == sip.BYE {
		c.end()
		if final == nil {
			s.respond(tx, req, sip.StatusOK, "OK") // the far end is gone; the dialog ends anyway
		}
		return
	}
	if final == nil {
		s.respond(tx, req, sip.StatusRequestTimeout, "Request Timeout")
	}
}

// relay sends fwd and passes its responses back on tx until the final
// one, which it returns (nil when none came).
func (s *Server) relay(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request, dest string) *sip.Response {
	out, err := s.client.TransactionRequest(ctx, fwd, s.addVia)
	if err != nil {
		s.log.Debug("sip: relay", "method", string(req.Method), "err", err)
		return nil
	}
	defer out.Terminate()
	for {
		select {
		case res := <-out.Responses():
			if res.StatusCode == sip.StatusTrying {
				continue
			}
			up := res.Clone()
			up.RemoveHeader("Via")
			if cs, own := up.CSeq(), req.CSeq(); cs != nil && own != nil {
				cs.SeqNo = own.SeqNo // undo a shift toward a trunk (shiftCSeq)
			}
			// The sender's own From and To, as asSeenBy changed them.
			if from, own := up.From(), req.From(); from != nil && own != nil {
				presentAs(&from.DisplayName, &from.Address, own.DisplayName, own.Address)
			}
			if to, own := up.To(), req.To(); to != nil && own != nil {
				presentAs(&to.DisplayName, &to.Address, own.DisplayName, own.Address)
			}
			up.SetDestination(dest)
			up.SetTransport(req.Transport())
			s.send(tx, up)
			if !res.IsProvisional() {
				return res
			}
		case <-out.Done():
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// onAck relays an ACK for a 2xx of a dialog this node carries through
// us statelessly, also the caller's ACK of a dialog whose BYE was handled
// first (endedDialog); ACKs for our own non-2xx answers are absorbed by
// their transactions, others are dropped (an ACK gets no answer).
func (s *Server) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if !s.isRoutedThrough(req) {
		return
	}
	c, callee := s.dialogOf(req)
	var ended endedDialog
	if c == nil {
		var ok bool
		if ended, ok = s.calls.endedDialog(req, time.Now()); !ok {
			s.refuseDialog(req)
			return
		}
	}
	fwd, ok := s.relayRequest(req)
	if !ok {
		return
	}
	if c != nil {
		s.toParty(fwd, c, callee)
		shiftCSeq(fwd, callee)
		s.asSeenBy(fwd, c, callee)
	} else {
		s.pinTo(fwd, ended.transport, ended.calleeTarget, ended.calleeIP)
	}
	if err := s.client.WriteRequest(fwd, s.addVia); err != nil {
		s.log.Debug("sip: relay ack", "err", err)
	}
}

// relayRequest copies req for relaying: our Route entries removed,
// Max-Forwards decremented, transport and destination from the next
// Route or the Request-URI. false when Max-Forwards ran out.
func (s *Server) relayRequest(req *sip.Request) (*sip.Request, bool) {
	fwd := req.Clone()
	next := s.popOwnRoutes(fwd)
	if mf := fwd.MaxForwards(); mf != nil {
		if mf.Val() <= 1 {
			return nil, false
		}
		mf.Dec()
	}
	target := fwd.Recipient
	if next != nil {
		target = *next
	}
	s.prepareOut(fwd, uriTransport(target), hostPort(target))
	return fwd, true
}

// routeValues returns every Route entry of req in order.
func routeValues(req *sip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Route") {
		out = append(out, splitList(h.Value())...)
	}
	return out
}

// isRoutedThrough reports whether req's first Route names us.
func (s *Server) isRoutedThrough(req *sip.Request) bool {
	vs := routeValues(req)
	if len(vs) == 0 {
		return false
	}
	var u sip.Uri
	var p sip.HeaderParams
	if _, err := sip.ParseAddressValue(vs[0], &u, &p); err != nil {
		return false
	}
	return s.ourURI(u)
}

// popOwnRoutes removes the leading Route entries that name us and
// returns the next one (nil when none is left).
func (s *Server) popOwnRoutes(req *sip.Request) *sip.Uri {
	vs := routeValues(req)
	i := 0
	var next *sip.Uri
	for ; i < len(vs); i++ {
		var u sip.Uri
		var p sip.HeaderParams
		if _, err := sip.ParseAddressValue(vs[i], &u, &p); err != nil || !s.ourURI(u) {
			if err == nil {
				next = &u
			}
			break
		}
	}
	if i == 0 {
		return next
	}
	removeAll(req, "Route")
	for _, v := range vs[i:] {
		req.AppendHeader(sip.NewHeader("Route", v))
	}
	return next
}

// strayResponse handles responses no client transaction matched: 2xx
// retransmissions of an answered INVITE go on to the caller (RFC 3261
// §16.7), also of one relayed to a NATed phone's flow (path.go);
// anything else is dropped.
func (s *Server) strayResponse(res *sip.Response) { s.relayAnswer(res) }

// relayAnswer sends a repeated 2xx of the winning branch of a call this
// node carries on to the caller, whether its transaction still lives
// (the transaction's retransmission hook) or has ended (strayResponse):
// the caller whose ACK was lost ACKs again only when it sees one.
// Anything else is dropped: a 2xx of a branch that lost the race to
// another answer is not the caller's.
func (s *Server) relayAnswer(res *sip.Response) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != sip.INVITE || !res.IsSuccess() {
		return
	}
	tag := ""
	if to := res.To(); to != nil {
		tag, _ = to.Params.Get("tag")
	}
	if want, ok := s.calls.winnerTag(callIDOf(res)); (!ok || want != tag) && !s.flowCalls.has(callIDOf(res), time.Now()) {
		return
	}
	vias := res.GetHeaders("Via")
	if len(vias) == 0 {
		return
	}
	up := res.Clone()
	up.RemoveHeader("Via")
	v := up.Via()
	if v == nil {
		return
	}
	host, port := v.Host, v.Port
	if r, ok := v.Params.Get("received"); ok && r != "" {
		host = r
	}
	if r, ok := v.Params.Get("rport"); ok && r != "" {
		if n, err := strconv.Atoi(r); err == nil {
			port = n
		}
	}
	if port == 0 {
		port = 5060
	}
	up.SetTransport(v.Transport)
	up.SetDestination(net.JoinHostPort(host, strconv.Itoa(port)))
	if err := s.ua.TransportLayer().WriteMsg(up); err != nil {
		s.log.Debug("sip: relay 2xx retransmission", "err", err)
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func callIDOf(res *sip.Response) string {
	if h := res.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
