package sip

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence"
)

// Pickup across nodes (docs/sip.md, "Pickup"). A call rings through the
// proxy of one node; the picker's phone may use another. The node the
// picker's INVITE reaches learns from the line grains which node holds
// the ringing call (actors.CallEvent.Node, nodeURI) and passes the INVITE
// on to it as a directed pickup (**LINE at that node's address) with a
// pickup grant (pickuptoken.go) in pickupHeader: the picker's line, the
// INVITE's Call-ID, the ringing call and line, an expiry, MACed with the
// key the nodes already share for Path routing (Config.FlowKey, from the
// cluster secret). That node takes the picker from the grant instead of
// a digest challenge, runs its local pickup of that call only, and its
// answers come back through the picker's node, which stays in the
// dialog. A phone cannot make a grant, and one grant serves one INVITE
// for one call, for pickupGrantTTL.

// nodeURI is this node's SIP URI as the other nodes reach it
// (sip:HOST:PORT, the host of its Path entries): named in the line
// reports of the calls it holds, where pickups of them are sent.
func (s *Server) nodeURI() string { return s.node }

// pickupPeer identifies the picker of an INVITE another node passed on
// with a pickup grant. A grant this node cannot verify (not made with
// its key, for another INVITE or number, expired) or naming a line that
// is gone or out of service is answered 403: the request goes nowhere.
// It answers the request itself when it returns false (identify).
func (s *Server) pickupPeer(req *sip.Request, tx sip.ServerTransaction) (party, bool) {
	g, ok := verifyPickupToken(s.flowKey, req.GetHeader(pickupHeader).Value(), callID(req), time.Now())
	if ok && req.Recipient.User != "**"+g.line {
		ok = false // the grant is for this number only
	}
	if !ok {
		if src := sourceIP(req); s.logOnce.allow("pickup:"+src, time.Now()) {
			s.log.Warn("sip: INVITE with an invalid pickup grant refused (further ones from this source are not logged for a minute)",
				"source", src)
		}
		s.respond(tx, req, sip.StatusForbidden, "Invalid Pickup Grant")
		return party{}, false
	}
	line, err := s.cfg.Store.Line(g.picker)
	if err != nil || !s.inService(line) {
		if err != nil && !errors.Is(err, persistence.ErrNotFound) {
			s.log.Warn("sip: read picker's line", "err", err)
		}
		s.respond(tx, req, sip.StatusForbidden, "Picker Unknown")
		return party{}, false
	}
	return party{line: line, number: line.GetNumber(), pickupOf: g.call}, true
}

// nodeAnswers reports whether the node at uri answers an OPTIONS within
// Config.PickupProbeTimeout.
func (s *Server) nodeAnswers(uri string) bool {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return false
	}
	req, err := s.optionsPing(uri)
	if err != nil {
		return false
	}
	s.prepareOut(req, uriTransport(u), hostPort(u))
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.PickupProbeTimeout)
	defer cancel()
	tx, err := s.client.TransactionRequest(ctx, req, s.addVia)
	if err != nil {
		return false
	}
	defer tx.Terminate()
	return waitFinal(ctx, tx) != nil
}

// pickupElsewhere passes the picker's INVITE to node, which holds call
// ringing on line, with a pickup grant, and relays its answers.
func (c *call) pickupElsewhere(rc remoteRinging) outcome {
	var node sip.Uri
	if err := sip.ParseUri(rc.node, &node); err != nil {
		c.s.log.Warn("sip: node of a ringing call", "node", rc.node, "err", err)
		return outcome{status: sip.StatusNotFound, reason: "No Call To Pick Up"}
	}
	g := pickupGrant{picker: c.caller.line.GetNumber(), invite: c.id, call: rc.callID, line: rc.line,
		expires: time.Now().Add(pickupGrantTTL)}
	contact := node
	contact.User = "**" + rc.line
	c.forkReq = c.req.Clone()
	removeAll(c.forkReq, "Replaces")
	removeAll(c.forkReq, pickupHeader)
	c.forkReq.AppendHeader(sip.NewHeader(pickupHeader, pickupToken(c.s.flowKey, g)))
	defer func() { c.forkReq = nil }()
	st := c.ringStage([]ringTarget{{contacts: contactRegs(contact.String())}}, c.s.cfg.RingTimeout)
	switch {
	case st.answered, st.cancelled:
		return outcome{answered: st.answered, cancelled: st.cancelled}
	case st.best != nil:
		return outcome{res: st.best}
	}
	return outcome{status: sip.StatusNotFound, reason: "No Call To Pick Up"}
}
