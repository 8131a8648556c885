package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// branch is one forwarded INVITE to one contact (RFC 3261 §16.6).
type branch struct {
	c      *call
	stage  int
	line   string
	member string
	req    *sip.Request
	tx     sip.ClientTransaction
	flow   bool // req goes to a NATed binding's flow, not to its Contact

	mu           sync.Mutex
	provisional  bool   // a 1xx arrived: a CANCEL may be sent
	toTag        string // the To tag of its early dialog (18x), for pickup
	peerIP       string // where its responses came from: the callee's side of the dialog
	final        bool
	cancelReason *string // set when the branch is to be cancelled
	cancelSent   bool
	cancelled    chan struct{} // closed when a CANCEL has gone out
	cancelOnce   sync.Once
	// reading: read runs for the branch, and waits for the final response
	// of its CANCEL too (cancelTx, until read takes it): no goroutine per
	// CANCEL. readDone: read returned; a CANCEL sent later is not waited
	// for (the INVITE has its final response).
	reading, readDone bool
	cancelTx          sip.ClientTransaction
	// cseqShift is added to the CSeq of the caller's in-dialog requests
	// relayed to this branch's callee: 1 when a trunk's INVITE was sent
	// again with credentials (trunktx.go). With req, it is
	// written under mu by the trunk's retry.
	cseqShift uint32
}

// Bounds on waiting for a branch's final response once it cannot matter
// any more. RFC 3261 §9.1: without a final response 64*T1 after the
// CANCEL, the INVITE transaction is given up. A node shutting down waits
// shutdownGrace for the 487s its CANCELs ask for, not the phones' whims.
var (
	cancelGiveUp  = 64 * sip.T1
	shutdownGrace = time.Second
)

// transactionContext bounds a transaction this server started: 64*T1
// (RFC 3261 §17.1), or shutdownGrace after the server began to stop, so
// that a phone that has gone away cannot hold a shutdown for 32 s.
func (s *Server) transactionContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	stop := context.AfterFunc(s.ctx, func() { time.AfterFunc(shutdownGrace, cancel) })
	return ctx, func() { stop(); cancel() }
}

// fork starts one branch per contact of targets, as stage number
// c.stages+1, and reports the targets' lines ringing (and offers to
// group members).
func (c *call) fork(targets []ringTarget) []*branch {
	c.mu.Lock()
	c.stages++
	stage := c.stages
	c.mu.Unlock()
	var out []*branch
	var offered []hunt.Event
	for _, t := range targets {
		started := false
		for _, reg := range t.contacts {
			b, err := c.startBranch(stage, t, reg)
			if err != nil {
				c.s.log.Debug("sip: branch", "call", c.id, "err", err)
				continue
			}
			out, started = append(out, b), true
		}
		if !started {
			continue
		}
		c.note(t.line, actors.CallEvent{Phase: linestate.PhaseRinging, Remote: c.caller.number})
		if c.group != "" && t.member != "" {
			offered = append(offered, huntOffered(t.member))
		}
	}
	if len(offered) > 0 {
		c.groupEvent(offered...)
	}
	return out
}

func (c *call) startBranch(stage int, t ringTarget, reg *dirpb.Registration) (*branch, error) {
	from := c.req
	if c.forkReq != nil {
		from = c.forkReq
	}
	req, err := c.s.branchRequest(from, reg.GetContact())
	if err == nil {
		err = c.s.toBinding(req, reg)
	}
	if err != nil {
		return nil, err
	}
	b := &branch{c: c, stage: stage, line: t.line, member: t.member, req: req, cancelled: make(chan struct{}), flow: reg.GetNat()}
	ctx := context.WithoutCancel(c.ctx) // a branch ends by CANCEL, not by context
	tx, err := c.s.client.TransactionRequest(ctx, req, c.s.recordRoute(c.req), c.s.addVia)
	if err != nil {
		return nil, err
	}
	// The phone repeats its 2xx until the caller's ACK reaches it; while
	// the transaction lives it takes those copies (RFC 6026's Accepted
	// state) and hands them only to this hook.
	tx.OnRetransmission(c.s.relayAnswer)
	b.tx = tx
	c.runBranch(b)
	return b, nil
}

// runBranch adds b (its transaction started) to the call and starts
// reading its responses; false, with b's transaction ended, when the
// server is shutting down.
func (c *call) runBranch(b *branch) bool {
	c.mu.Lock()
	c.branches = append(c.branches, b)
	c.mu.Unlock()
	c.s.m.branches.Inc()
	b.mu.Lock()
	b.reading = true
	b.mu.Unlock()
	if !c.s.goTracked(b.read) {
		b.mu.Lock()
		b.reading = false
		b.mu.Unlock()
		b.tx.Terminate()
		c.s.m.branches.Dec()
		return false
	}
	return true
}

// branchRequest builds the INVITE forwarded to contact: Request-URI the
// contact, our Proxy-Authorization and Route removed, Max-Forwards
// decremented. Record-Route and Via are added when sent (recordRoute,
// addVia), once the destination is final.
func (s *Server) branchRequest(in *sip.Request, contact string) (*sip.Request, error) {
	var uri sip.Uri
	if err := sip.ParseUri(contact, &uri); err != nil {
		return nil, err
	}
	req := in.Clone()
	req.Recipient = uri
	removeAll(req, "Proxy-Authorization")
	s.popOwnRoutes(req)
	if mf := req.MaxForwards(); mf != nil {
		mf.Dec()
	}
	s.prepareOut(req, uriTransport(uri), hostPort(uri))
	return req, nil
}

// uriTransport is the transport a URI asks for: its transport
// parameter, TLS for a sips: URI, else UDP.
func uriTransport(u sip.Uri) string {
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		return strings.ToUpper(t)
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return "TLS"
	}
	return "UDP"
}

func reliable(transport string) bool {
	return strings.EqualFold(transport, "tcp") || strings.EqualFold(transport, "tls")
}

// prepareOut sets a forwarded request's transport and destination, and
// for UDP sends it from our listening socket (phones and NATs expect the
// proxy's port).
func (s *Server) prepareOut(req *sip.Request, transport, dest string) {
	req.SetTransport(transport)
	req.SetDestination(dest)
	if transport == "UDP" {
		if a, ok := s.udp.LocalAddr().(*net.UDPAddr); ok {
			req.Laddr = sip.Addr{IP: a.IP, Port: a.Port}
		}
	}
}

// recordRoute is the client request option that adds our Record-Route
// to a request forwarded from in: one naming the address it leaves from
// toward its destination and, when in arrived on another address or
// transport, a second naming that one (RFC 5658), so that each side
// routes back over an address it reaches. It runs when the request is
// sent, once its transport and destination are final.
func (s *Server) recordRoute(in *sip.Request) sipgo.ClientRequestOption {
	return func(_ *sipgo.Client, req *sip.Request) error {
		s.addRecordRoutes(in, req, "")
		return nil
	}
}

// addRecordRoutes prepends to fwd, forwarded from in, our Record-Route
// toward fwd's destination and, when in arrived on another address or
// transport, a second one toward in's source (RFC 5658). user is the URI
// user part ("" none; a flow token for a NATed phone's dialog, path.go).
func (s *Server) addRecordRoutes(in, fwd *sip.Request, user string) {
	out := s.routeValue(user, fwd.Transport(), fwd.Destination())
	if back := s.routeValue(user, in.Transport(), in.Source()); back != out {
		fwd.PrependHeader(sip.NewHeader("Record-Route", back))
	}
	fwd.PrependHeader(sip.NewHeader("Record-Route", out))
}

// routeValue is our Record-Route value toward peer on transport, with
// user as its user part when not empty.
func (s *Server) routeValue(user, transport, peer string) string {
	v := "<sip:"
	if user != "" {
		v += user + "@"
	}
	v += s.uriHostPort(transport, peer) + ";lr"
	if !strings.EqualFold(transport, "UDP") {
		v += ";transport=" + strings.ToLower(transport)
	}
	return v + ">"
}

func hostPort(u sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

func removeAll(req *sip.Request, name string) {
	for req.RemoveHeader(name) {
	}
}

// read passes the branch's responses to the call until its final one,
// or until the transaction is given up: cancelGiveUp after a CANCEL went
// out, or shutdownGrace after the server began to stop, whichever ends
// first. A given-up branch ends as if its transaction had. After a
// CANCEL it also waits (within the same bounds) for the CANCEL's final
// response.
func (b *branch) read() {
	defer b.c.s.m.branches.Dec()
	r := branchReader{b: b, res: b.tx.Responses(), done: b.tx.Done(), cancelled: b.cancelled, stopping: b.c.s.ctx.Done()}
	r.giveUp = time.NewTimer(cancelGiveUp)
	r.giveUp.Stop() // armed by a CANCEL or a stop
	defer r.close()
	for r.step() {
	}
}

// branchReader is the state of one branch's read loop.
type branchReader struct {
	b                   *branch
	res                 <-chan *sip.Response // the INVITE's; nil after its final
	done                <-chan struct{}
	cancelTx            sip.ClientTransaction
	cancelRes           <-chan *sip.Response // the CANCEL's; nil until sent and after its final
	cancelDone          <-chan struct{}
	cancelled, stopping <-chan struct{}
	giveUp              *time.Timer
	until               time.Time // when giveUp fires; zero while unarmed
}

// arm sets giveUp to fire after d unless it fires earlier already.
func (r *branchReader) arm(d time.Duration) {
	if at := time.Now().Add(d); r.until.IsZero() || at.Before(r.until) {
		r.until = at
		r.giveUp.Reset(d)
	}
}

// step handles one event; false when the loop is over.
func (r *branchReader) step() bool {
	select {
	case res := <-r.res:
		if r.b.response(res) {
			r.res, r.done = nil, nil
		}
	case <-r.done:
		r.b.end()
		r.res, r.done = nil, nil
	case res := <-r.cancelRes:
		if !res.IsProvisional() {
			r.endCancel()
		}
	case <-r.cancelDone:
		r.endCancel()
	case <-r.cancelled:
		r.cancelled = nil
		r.arm(cancelGiveUp)
		r.b.mu.Lock()
		r.cancelTx, r.b.cancelTx = r.b.cancelTx, nil
		r.b.mu.Unlock()
		if r.cancelTx != nil {
			r.cancelRes, r.cancelDone = r.cancelTx.Responses(), r.cancelTx.Done()
		}
	case <-r.stopping:
		r.stopping = nil
		r.arm(shutdownGrace)
	case <-r.giveUp.C:
		if r.res != nil {
			r.b.tx.Terminate()
			r.b.end()
		}
		return false
	}
	return r.res != nil || r.cancelRes != nil
}

// endCancel ends the wait for the CANCEL's final response.
func (r *branchReader) endCancel() {
	r.cancelTx.Terminate()
	r.cancelTx, r.cancelRes, r.cancelDone = nil, nil, nil
}

// close ends the loop: a CANCEL still open (or sent meanwhile) is ended.
func (r *branchReader) close() {
	r.giveUp.Stop()
	r.b.mu.Lock()
	r.b.readDone = true
	left := r.b.cancelTx
	r.b.cancelTx = nil
	r.b.mu.Unlock()
	for _, tx := range []sip.ClientTransaction{r.cancelTx, left} {
		if tx != nil {
			tx.Terminate()
		}
	}
}

// response passes one response of the INVITE to the call; it reports
// whether it was the final one.
func (b *branch) response(res *sip.Response) bool {
	if res.StatusCode == sip.StatusTrying {
		b.sawProvisional()
		return false
	}
	final := !res.IsProvisional()
	if final {
		b.mu.Lock()
		b.final = true
		b.mu.Unlock()
	} else {
		b.sawProvisional()
		b.noteTag(res)
	}
	b.deliver(res)
	return final
}

// end records that no final response will come and tells the call.
func (b *branch) end() {
	b.mu.Lock()
	b.final = true
	b.mu.Unlock()
	b.deliver(nil)
}

func (b *branch) noteTag(res *sip.Response) {
	if to := res.To(); to != nil {
		if tag, ok := to.Params.Get("tag"); ok {
			b.mu.Lock()
			b.toTag = tag
			b.peerIP = hostOf(res.Source())
			b.mu.Unlock()
		}
	}
}

// sawProvisional records a 1xx and sends a CANCEL that waited for one.
func (b *branch) sawProvisional() {
	b.mu.Lock()
	b.provisional = true
	send := b.cancelReason != nil && !b.cancelSent && !b.final
	if send {
		b.cancelSent = true
	}
	reason := ""
	if b.cancelReason != nil {
		reason = *b.cancelReason
	}
	b.mu.Unlock()
	if send {
		b.c.s.sendCancel(b, reason)
	}
}

// deliver hands an event to the call's loop; once the loop is done, a
// late 2xx is acknowledged and hung up here.
func (b *branch) deliver(res *sip.Response) {
	select {
	case b.c.events <- branchEvent{b: b, res: res}:
	case <-b.c.loopDone:
		if res != nil && res.IsSuccess() {
			b.c.s.hangUpLate(b, res)
		}
	}
}

// cancelBranches cancels every branch but keep that has no final
// response yet. A branch without a provisional response yet is cancelled
// when one arrives (RFC 3261 §9.1).
func (c *call) cancelBranches(bs []*branch, keep *branch, reason string) {
	for _, b := range bs {
		if b == keep {
			continue
		}
		b.mu.Lock()
		if b.final || b.cancelReason != nil {
			b.mu.Unlock()
			continue
		}
		r := reason
		b.cancelReason = &r
		send := b.provisional
		b.cancelSent = send
		b.mu.Unlock()
		if send {
			c.s.sendCancel(b, reason)
		}
	}
}

// sendCancel sends a CANCEL for b's INVITE: same Request-URI, top Via,
// From, To, Call-ID, CSeq number and Route (sipgo has no ClientTx.Cancel).
// The branch's read loop waits for its final response; a branch without
// one (a relayed flow's INVITE) waits on a goroutine of its own.
func (s *Server) sendCancel(b *branch, reason string) {
	b.mu.Lock()
	req := cancelRequest(b.req, reason)
	reading := b.reading
	b.mu.Unlock()
	if !reading {
		b.cancelOnce.Do(func() { close(b.cancelled) })
		s.goTracked(func() {
			ctx, cancel := s.transactionContext()
			defer cancel()
			tx, err := s.client.TransactionRequest(ctx, req, asIs)
			if err != nil {
				s.log.Debug("sip: cancel", "err", err)
				return
			}
			defer tx.Terminate()
			waitFinal(ctx, tx)
		})
		return
	}
	// The context only bounds opening a connection (TCP, TLS): the
	// transaction is bounded by the read loop.
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	tx, err := s.client.TransactionRequest(ctx, req, asIs)
	cancel()
	if err != nil {
		s.log.Debug("sip: cancel", "err", err)
	} else {
		b.mu.Lock()
		done := b.readDone
		if !done {
			b.cancelTx = tx
		}
		b.mu.Unlock()
		if done {
			tx.Terminate() // the INVITE has its final response
		}
	}
	b.cancelOnce.Do(func() { close(b.cancelled) })
}

// cancelRequest builds the CANCEL of INVITE inv.
func cancelRequest(inv *sip.Request, reason string) *sip.Request {
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	if v := inv.Via(); v != nil {
		req.AppendHeader(v.Clone())
	}
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.NewHeader("Route", h.Value()))
	}
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			req.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	if reason != "" {
		req.AppendHeader(sip.NewHeader("Reason", reason))
	}
	req.SetBody(nil)
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	req.Laddr = inv.Laddr
	return req
}

// asIs sends a request exactly as built (no header is added).
func asIs(*sipgo.Client, *sip.Request) error { return nil }

// waitFinal waits for a client transaction's final response.
func waitFinal(ctx context.Context, tx sip.ClientTransaction) *sip.Response {
	for {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return res
			}
		case <-tx.Done():
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// hangUpLate ends the dialog a 2xx created after the call was answered
// elsewhere or cancelled: ACK it, then BYE with the reason, straight to
// the phone's Contact (where the INVITE went, over TCP or TLS or to a
// NATed phone: its flow).
func (s *Server) hangUpLate(b *branch, res *sip.Response) {
	contact := res.Contact()
	if contact == nil {
		return
	}
	mk := func(m sip.RequestMethod, seq uint32) *sip.Request {
		r := sip.NewRequest(m, *contact.Address.Clone())
		for _, name := range []string{"From", "Call-ID"} {
			if h := b.req.GetHeader(name); h != nil {
				r.AppendHeader(sip.NewHeader(name, h.Value()))
			}
		}
		if to := res.To(); to != nil {
			r.AppendHeader(sip.NewHeader("To", to.Value()))
		}
		if b.flow {
			for _, h := range b.req.GetHeaders("Route") {
				r.AppendHeader(sip.NewHeader("Route", h.Value())) // the Path to the node holding the flow
			}
		}
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
		mf := sip.MaxForwardsHeader(70)
		r.AppendHeader(&mf)
		r.SetBody(nil)
		s.prepareOut(r, uriTransport(contact.Address), hostPort(contact.Address))
		if reliable(b.req.Transport()) || b.flow {
			r.SetTransport(b.req.Transport())
			r.SetDestination(b.req.Destination())
		}
		return r
	}
	seq := b.req.CSeq().SeqNo
	if err := s.client.WriteRequest(mk(sip.ACK, seq), s.addVia); err != nil {
		s.log.Debug("sip: ack late answer", "err", err)
	}
	bye := mk(sip.BYE, seq+1)
	bye.AppendHeader(sip.NewHeader("Reason", `SIP;cause=200;text="Call completed elsewhere"`))
	ctx, cancel := s.transactionContext()
	defer cancel()
	tx, err := s.client.TransactionRequest(ctx, bye, s.addVia)
	if err != nil {
		s.log.Debug("sip: bye late answer", "err", err)
		return
	}
	defer tx.Terminate()
	waitFinal(ctx, tx)
}
