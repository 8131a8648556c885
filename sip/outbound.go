package sip

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Calls out through trunks (docs/sip.md, "Calls out through trunks"): a
// number that is neither a line, a call group nor a line's public number
// goes through the dial plan to a trunk's upstream, if the class of
// service of the line that dials it (or forwards to it) allows.

// classOf is the class of service of line's owner (Store.CallClass). A
// directory error counts as internal: refuse rather than open a call out.
func (s *Server) classOf(line *dirpb.Line) dialplan.Class {
	c, err := s.cfg.Store.CallClass(line.GetOwner())
	if err != nil {
		return dialplan.Internal
	}
	return c
}

// Answers to a number that may not be dialled.
const (
	reasonNoRoute     = "Not Found" // as for a number nothing knows: no rule matches it
	reasonTrunkCaller = "Trunk To Trunk Not Allowed"
)

// outboundRoute decides where number, not in the directory, goes when
// line dials it or forwards to it: its route and trunk, or the status
// and reason to refuse it with (404 no rule matches, 403 the class of
// service does not allow it or the call came from a trunk).
func (s *Server) outboundRoute(line *dirpb.Line, number string) (dialplan.Route, *dirpb.TrunkOutbound, int, string) {
	plan, err := s.cfg.Store.CompiledDialPlan()
	if err != nil {
		s.log.Warn("sip: dial plan", "err", err)
		return dialplan.Route{}, nil, sip.StatusInternalServerError, "Directory Unavailable"
	}
	route, ok := plan.Route(number)
	switch {
	case !ok:
		return route, nil, sip.StatusNotFound, reasonNoRoute
	case line == nil && !route.Emergency:
		return route, nil, sip.StatusForbidden, reasonTrunkCaller
	case line != nil && !s.classOf(line).Allows(route):
		return route, nil, sip.StatusForbidden, route.Reason()
	}
	t, err := s.cfg.Store.Trunk(route.Trunk)
	if err != nil || t.GetOutbound() == nil {
		return route, nil, sip.StatusServiceUnavailable, "Trunk Unavailable"
	}
	return route, t.GetOutbound(), 0, ""
}

// mayDial tells whether caller (a line; nil for a call from a trunk) may
// dial number now: 0 when allowed (a line, a call group, a line's public
// number, or a number the dial plan routes and the caller's class of
// service allows), else the SIP status and reason phrase to refuse it
// with. It is what a call, a forwarding and a transfer check.
func (s *Server) mayDial(caller *dirpb.Line, number string) (status int, reason string) {
	kind, _, _, err := s.lookup(number)
	if err != nil {
		return sip.StatusInternalServerError, "Directory Unavailable"
	}
	if kind != destNone {
		return 0, ""
	}
	if _, ok := s.lineByE164(number); ok {
		return 0, ""
	}
	_, _, status, reason = s.outboundRoute(caller, number)
	return status, reason
}

// lineByE164 is the line whose public number is number (a call in from
// a trunk names it so).
func (s *Server) lineByE164(number string) (*dirpb.Line, bool) {
	if number == "" {
		return nil, false
	}
	n, ok, err := s.cfg.Store.LineByE164(number)
	if err != nil {
		s.log.Warn("sip: public numbers", "err", err)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	l, err := s.cfg.Store.Line(n)
	return l, err == nil
}

// ringElsewhere rings a number the directory does not hold: a line by its
// public number, else through the dial plan with the class of service of
// the line that forwarded to it, or the caller's.
func (c *call) ringElsewhere(number string) outcome {
	if c.caller.trunk != "" {
		if n, ok := c.s.registeredNumber(c.caller.trunk, number, c.req); ok {
			return c.ringNumber(n)
		}
	}
	if l, ok := c.s.lineByE164(number); ok {
		if c.kind == "none" {
			c.kind = "line"
		}
		return c.ringLine(l)
	}
	by := c.caller.line
	if c.forwardedBy != nil {
		by = c.forwardedBy
	}
	route, out, status, reason := c.s.outboundRoute(by, number)
	if status != 0 {
		c.s.m.trunkCalls.WithLabelValues(trunkRefusal(status)).Inc()
		return outcome{status: status, reason: reason}
	}
	if c.kind == "none" {
		c.kind = "trunk"
	}
	if o, ok := c.s.trunkAdmission(route, time.Now()); !ok {
		return o
	}
	c.s.m.trunkCalls.WithLabelValues("routed").Inc()
	return c.ringTrunk(route, out, by)
}

func trunkRefusal(status int) string {
	switch status {
	case sip.StatusNotFound:
		return "no_route"
	case sip.StatusForbidden:
		return "refused"
	}
	return "failed"
}

// ringTrunk sends the call to the trunk's upstream and waits for its
// answer like one stage of ringing. The upstream's digest challenge is
// answered (trunkTx); if it refuses the credentials the caller gets 502.
func (c *call) ringTrunk(route dialplan.Route, out *dirpb.TrunkOutbound, by *dirpb.Line) outcome {
	req, err := c.trunkRequest(route, out, by)
	if err != nil {
		c.s.log.Warn("sip: trunk request", "trunk", route.Trunk, "err", err)
		return outcome{status: sip.StatusServiceUnavailable, reason: "Trunk Unavailable"}
	}
	c.mu.Lock()
	c.stages++
	stage := c.stages
	c.mu.Unlock()
	b, err := c.startTrunkBranch(stage, req, route.Trunk, out)
	if err != nil {
		c.s.log.Warn("sip: trunk branch", "trunk", route.Trunk, "err", err)
		return outcome{status: sip.StatusServiceUnavailable, reason: "Trunk Unavailable"}
	}
	st := c.waitBranch(b, c.s.cfg.RingTimeout)
	switch {
	case st.answered, st.cancelled:
		return outcome{answered: st.answered, cancelled: st.cancelled}
	case st.timedOut:
		return outcome{status: sip.StatusTemporarilyUnavailable, reason: "No Answer"}
	case st.best != nil && (st.best.StatusCode == sip.StatusUnauthorized || st.best.StatusCode == sip.StatusProxyAuthRequired):
		return outcome{status: sip.StatusBadGateway, reason: "Trunk Authentication Failed"}
	case st.best == nil:
		return outcome{status: sip.StatusServiceUnavailable, reason: "Trunk Unavailable"}
	case st.best.StatusCode == sip.StatusServiceUnavailable:
		return trunkRefused(st.best)
	}
	return outcome{res: st.best}
}

// waitBranch waits until b answers, fails, timeout passes or the caller
// cancels (ringStage for one branch started apart).
func (c *call) waitBranch(b *branch, timeout time.Duration) stageResult {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	stage := []*branch{b}
	for {
		select {
		case ev := <-c.events:
			if c.onEvent(ev) {
				return stageResult{answered: true}
			}
			if ev.b == b && !ev.provisional() {
				return stageResult{best: ev.res}
			}
		case <-timer.C:
			c.cancelBranches(stage, nil, "")
			return stageResult{timedOut: true}
		case <-c.ctx.Done():
			c.cancelBranches(stage, nil, "")
			return stageResult{cancelled: true}
		}
	}
}

// trunkURI is the upstream's URI for number: number@domain, the host and
// port, and the transport.
func trunkURI(out *dirpb.TrunkOutbound, number string) string {
	domain := out.GetDomain()
	if domain == "" {
		domain = out.GetHost()
	}
	transport := strings.ToLower(out.GetTransport())
	if transport == "" {
		transport = "udp"
	}
	port := int(out.GetPort())
	if port == 0 {
		port = 5060
		if transport == "tls" {
			port = 5061
		}
	}
	u := "sip:" + number + "@" + domain
	if domain == out.GetHost() {
		u = "sip:" + number + "@" + net.JoinHostPort(out.GetHost(), strconv.Itoa(port))
	}
	if transport != "udp" {
		u += ";transport=" + transport
	}
	return u
}

// trunkDest is where requests to the upstream go (host:port).
func trunkDest(out *dirpb.TrunkOutbound) (transport, dest string) {
	transport = strings.ToUpper(out.GetTransport())
	if transport == "" {
		transport = "UDP"
	}
	port := int(out.GetPort())
	if port == 0 {
		port = 5060
		if transport == "TLS" {
			port = 5061
		}
	}
	return transport, net.JoinHostPort(out.GetHost(), strconv.Itoa(port))
}

// trunkRequest builds the INVITE to the upstream: Request-URI the number
// after strip and prepend at the trunk's domain, caller ID and privacy
// by the trunk's rules, and nothing the caller's phone asserted or
// authenticated with. A call of ours shows the caller's line; a call
// from outside forwarded out keeps its From (the original caller) and
// asserts the forwarding line (by).
func (c *call) trunkRequest(route dialplan.Route, out *dirpb.TrunkOutbound, by *dirpb.Line) (*sip.Request, error) {
	req, err := c.s.branchRequest(c.req, trunkURI(out, route.Number))
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Authorization", "P-Asserted-Identity", "P-Preferred-Identity", "Privacy", "Remote-Party-ID"} {
		removeAll(req, h)
	}
	transport, dest := trunkDest(out)
	c.s.prepareOut(req, transport, dest)
	domain := out.GetDomain()
	if domain == "" {
		domain = out.GetHost()
	}
	line := c.caller.line
	if line == nil {
		line = by
	}
	id := callerID(out, line)
	if id == "" {
		return req, nil
	}
	req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:"+id+"@"+domain+">"))
	from := req.From() // the branch's own copy (Request.Clone clones headers)
	switch {
	case line.GetWithholdCallerId():
		from.DisplayName = "Anonymous"
		from.Address = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	case c.caller.line != nil:
		from.Address = sip.Uri{Scheme: "sip", User: id, Host: domain}
	}
	return req, nil
}

// callerID is the public number a call out by line shows: the line's
// e164 unless the trunk always sends its main number, else the main
// number, else "" (the upstream decides).
func callerID(out *dirpb.TrunkOutbound, line *dirpb.Line) string {
	if out.GetCallerId() != "trunk" && line.GetE164() != "" {
		return line.GetE164()
	}
	return out.GetMainNumber()
}

// startTrunkBranch sends req to trunk's upstream as branch of stage (no
// line rings, so no line state is reported); our Via offers RFC 7339
// overload control.
func (c *call) startTrunkBranch(stage int, req *sip.Request, trunk string, out *dirpb.TrunkOutbound) (*branch, error) {
	b := &branch{c: c, stage: stage, req: req, cancelled: make(chan struct{})}
	ctx := context.WithoutCancel(c.ctx) // a branch ends by CANCEL, not by context
	inner, err := c.s.client.TransactionRequest(ctx, req, c.s.recordRoute(c.req), c.s.addVia, ocVia)
	if err != nil {
		return nil, err
	}
	tx := newTrunkTx(c.s, b, inner, trunk, out)
	b.tx = tx
	if !c.runBranch(b) {
		return nil, errors.New("sip: shutting down")
	}
	c.s.goTracked(tx.pump)
	return b, nil
}

// shiftCSeq renumbers fwd, an in-dialog request (or ACK) of the caller
// relayed to callee, when callee's INVITE was sent again with
// credentials: the upstream counts from the retried INVITE's CSeq.
func shiftCSeq(fwd *sip.Request, callee *branch) {
	if callee == nil {
		return
	}
	callee.mu.Lock()
	shift := callee.cseqShift
	callee.mu.Unlock()
	if cs := fwd.CSeq(); shift != 0 && cs != nil {
		cs.SeqNo += shift
	}
}
