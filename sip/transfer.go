package sip

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Call transfer (docs/sip.md, "Transfer").
//
// Blind transfer (RFC 3515): a party of a dialog this node carries sends
// REFER; the node checks its Refer-To (refuseRefer) and relays it like
// any in-dialog request, and the NOTIFYs of the transfer's progress come
// back the same way. The transferee's new INVITE (with Referred-By) is a
// call like any other; the first dialog stays in the call table until its
// BYE.
//
// Attended transfer (RFC 3891): an INVITE with Replaces naming a dialog
// that is connected (not ringing: that is a pickup, pickup.go) goes to
// the phone holding that dialog when this node carries it, else to the
// line its Request-URI names, without forwarding (only the phone holding
// the dialog can take it); anything else is routed like any call.
//
// The journal records both (transferInfo): the legs of the transferred
// call from the REFER, those of the new call from its Referred-By.

// transferInfo is who transferred a call (a number) and to which number.
type transferInfo struct{ by, to string }

// isPickup decides whether a pickup request pickupTarget recognised is
// one: a pickup code always; a Replaces only when it names a call
// ringing on any node (ringingCallNamed, pickupsearch.go) or asks for an early dialog only (early-only,
// RFC 3891 §3: never a connected call). Any other Replaces is a transfer
// (or a call retrieved from elsewhere) and is routed by its Request-URI.
func (s *Server) isPickup(req *sip.Request, p pickupRequest) bool {
	if p.callID == "" {
		return true
	}
	if s.ringingCallNamed(p.callID, req.Recipient.User) {
		return true
	}
	_, early := replacesParams(req)["early-only"]
	return early
}

// replacesParams are the parameters of req's Replaces header (to-tag,
// from-tag, early-only), lower-cased names.
func replacesParams(req *sip.Request) map[string]string {
	out := map[string]string{}
	h := req.GetHeader("Replaces")
	if h == nil {
		return out
	}
	parts := strings.Split(h.Value(), ";")
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		out[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return out
}

// replacing rings the phone an INVITE with Replaces is for (see the top
// of this file) and reports false when it is not for one this node can
// name: a Request-URI that is not a line is then routed like any call.
func (c *call) replacing(number string) (outcome, bool) {
	id, _, _ := strings.Cut(c.req.GetHeader("Replaces").Value(), ";")
	line := c.s.dialogParty(strings.TrimSpace(id), replacesParams(c.req)["to-tag"])
	if line == "" {
		kind, l, _, err := c.s.lookup(number)
		if err != nil || kind != destLine {
			return outcome{}, false
		}
		if !c.s.inService(l) {
			return outcome{status: sip.StatusTemporarilyUnavailable, reason: "Temporarily Unavailable"}, true
		}
		line = l.GetNumber()
	}
	c.kind = "replaces"
	contacts := c.contacts(line)
	if len(contacts) == 0 {
		return outcome{status: sip.StatusTemporarilyUnavailable, reason: "Temporarily Unavailable"}, true
	}
	st := c.ringStage([]ringTarget{{line: line, contacts: contacts}}, c.s.cfg.RingTimeout)
	switch {
	case st.answered, st.cancelled:
		return outcome{answered: st.answered, cancelled: st.cancelled}, true
	case st.timedOut:
		return outcome{status: sip.StatusTemporarilyUnavailable, reason: "No Answer"}, true
	}
	return outcome{res: st.best, status: sip.StatusCallTransactionDoesNotExists, reason: "Call/Transaction Does Not Exist"}, true
}

// dialogParty is the line of the party whose dialog tag is toTag in the
// connected call callID this node carries (the Replaces' to-tag is the
// tag of the phone that is to replace it), "" when there is none.
func (s *Server) dialogParty(callID, toTag string) string {
	c := s.calls.get(callID)
	if c == nil || toTag == "" {
		return ""
	}
	c.mu.Lock()
	w, finished := c.winner, c.finished
	c.mu.Unlock()
	if w == nil || finished {
		return ""
	}
	w.mu.Lock()
	calleeTag := w.toTag
	w.mu.Unlock()
	switch {
	case toTag == calleeTag:
		return w.line
	case toTag == c.fromTag && c.caller.line != nil:
		return c.caller.line.GetNumber()
	}
	return ""
}

// noteReferred records the transfer a new call comes from: its
// Referred-By (the transferor's number, as the transferee's phone gives
// it), else a REFER this node relayed lately to the caller's line for
// the number it calls (phones that do not copy Referred-By, RFC 3892
// §3), and the number it goes to. Run calls it before the first report.
func (c *call) noteReferred() {
	to := c.req.Recipient.User
	by := ""
	if h := c.req.GetHeader("Referred-By"); h != nil {
		var u sip.Uri
		var p sip.HeaderParams
		if _, err := sip.ParseAddressValue(h.Value(), &u, &p); err == nil && plausibleNumber(u.User) {
			by = u.User
		}
	}
	if c.caller.line != nil {
		if r := c.s.referrals.take(c.caller.line.GetNumber(), to, time.Now()); by == "" {
			by = r
		}
	}
	if by == "" {
		return
	}
	c.mu.Lock()
	c.xfer = transferInfo{by: by, to: to}
	c.mu.Unlock()
}

// referralTTL is how long an accepted REFER waits for the transferee's
// new call.
const referralTTL = time.Minute

// referrals are the REFERs this node relayed and saw accepted lately:
// by transferee line and target number, the transferor's number. The
// zero value is ready.
type referrals struct {
	mu sync.Mutex
	m  map[string]referral
}

type referral struct {
	by string
	at time.Time
}

func (r *referrals) add(referee, target, by string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]referral{}
	}
	for k, v := range r.m {
		if now.Sub(v.at) > referralTTL {
			delete(r.m, k)
		}
	}
	r.m[referee+"\x00"+target] = referral{by: by, at: now}
}

// take returns and forgets the transferor of a REFER of referee to
// target ("" when none is pending).
func (r *referrals) take(referee, target string, now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := referee + "\x00" + target
	v, ok := r.m[k]
	if !ok {
		return ""
	}
	delete(r.m, k)
	if now.Sub(v.at) > referralTTL {
		return ""
	}
	return v.by
}

// transfer is who transferred the call and to whom (zero: nobody).
func (c *call) transfer() transferInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.xfer
}

// plausibleNumber reports whether n can be a dialled number worth
// recording: what phones send is not trusted to be anything more.
func plausibleNumber(n string) bool {
	if n == "" || len(n) > 32 {
		return false
	}
	for _, r := range n {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("+*#.-_", r)) {
			return false
		}
	}
	return true
}

// referTarget is what a REFER asks for: the number its Refer-To names
// (with ?Replaces= for an attended transfer, checked the same way).
type referTarget struct {
	number string
}

// parseReferTo reads req's single Refer-To: a sip or sips URI of this
// node (the domain or one of its addresses) with a user part. A status
// and reason when it is not one.
func (s *Server) parseReferTo(req *sip.Request) (referTarget, int, string) {
	hs := req.GetHeaders("Refer-To")
	if len(hs) == 0 {
		hs = req.GetHeaders("r")
	}
	if len(hs) != 1 || len(splitList(hs[0].Value())) != 1 {
		return referTarget{}, sip.StatusBadRequest, "Exactly One Refer-To Required"
	}
	var u sip.Uri
	var p sip.HeaderParams
	if _, err := sip.ParseAddressValue(hs[0].Value(), &u, &p); err != nil {
		return referTarget{}, sip.StatusBadRequest, "Bad Refer-To"
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "sip" && scheme != "sips" {
		return referTarget{}, sip.StatusForbidden, "Transfer Target Not Allowed"
	}
	host := strings.Trim(u.Host, "[]")
	if !strings.EqualFold(host, s.cfg.Domain) && !strings.EqualFold(host, s.host) && !s.addrs.ourHost(host) {
		return referTarget{}, sip.StatusForbidden, "Transfer To Another Domain Refused"
	}
	number, err := url.PathUnescape(u.User)
	if err != nil || number == "" {
		return referTarget{}, sip.StatusForbidden, "Transfer Target Not Allowed"
	}
	return referTarget{number: number}, 0, ""
}

// refuseRefer checks a REFER of call c before it is relayed (callee set:
// it goes to the callee, so the caller sent it) and answers it when it
// is refused, reporting true: a Refer-To that is not this node's or
// names a number the referrer may not call (mayDial) gets 403, and
// nothing is dialled.
func (s *Server) refuseRefer(req *sip.Request, tx sip.ServerTransaction, c *call, callee *branch) bool {
	t, code, reason := s.parseReferTo(req)
	if code == 0 {
		referrer, err := s.referrer(c, callee)
		switch {
		case err != nil:
			s.log.Warn("sip: line of referrer", "err", err)
			code, reason = sip.StatusInternalServerError, "Directory Unavailable"
		default:
			code, reason = s.mayDial(referrer, t.number)
			if code >= 400 && code < 500 && code != sip.StatusForbidden {
				code, reason = sip.StatusForbidden, "Transfer Target Not Allowed"
			}
		}
	}
	if code == 0 {
		return false
	}
	if src := sourceIP(req); s.logOnce.allow("refer:"+src, time.Now()) {
		s.log.Info("sip: REFER refused (further ones from this source are not logged for a minute)",
			"status", code, "reason", reason, "source", src)
	}
	s.respond(tx, req, code, reason)
	return true
}

// referrer is the line that sent a REFER of c (nil: the caller is a
// trunk, or the callee's branch rang no line).
func (s *Server) referrer(c *call, callee *branch) (*dirpb.Line, error) {
	if callee != nil {
		return c.caller.line, nil
	}
	number := c.calleeLine()
	if number == "" {
		return nil, nil
	}
	l, err := s.cfg.Store.Line(number)
	if errors.Is(err, persistence.ErrNotFound) {
		return nil, nil
	}
	return l, err
}

// calleeLine is the line of c's answering branch ("" before the answer).
func (c *call) calleeLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.winner == nil {
		return ""
	}
	return c.winner.line
}

// referee is the line a REFER of c goes to (callee set: the REFER comes
// from the callee and goes to the caller) and the transferor's number,
// or "" for either the node does not know.
func (c *call) referee(callee *branch) (referee, by string) {
	if callee == nil {
		if c.caller.line != nil {
			referee = c.caller.line.GetNumber()
		}
		return referee, c.calleeLine()
	}
	return c.calleeLine(), c.caller.number
}

// referRelaying notes the referral of a REFER of c before it is relayed,
// so that the transferee's new call finds it: the transferee may send
// that INVITE right behind its 202, and the node may read the INVITE
// first. It returns the referral's target number ("" when none was
// noted) for referRelayed to withdraw unless the REFER is accepted.
func (s *Server) referRelaying(req *sip.Request, c *call, callee *branch) string {
	if req.Method != sip.REFER {
		return ""
	}
	t, code, _ := s.parseReferTo(req)
	referee, by := c.referee(callee)
	if code != 0 || referee == "" || by == "" {
		return ""
	}
	s.referrals.add(referee, t.number, by, time.Now())
	return t.number
}

// referAccepted records the transfer a relayed REFER of c asks for once
// the transferee accepted it (2xx): both lines of the call learn it (an
// answered step again, which only adds it), so their journal entries
// carry it.
func (c *call) referAccepted(req *sip.Request, callee *branch) {
	t, code, _ := c.s.parseReferTo(req)
	if code != 0 {
		return
	}
	_, by := c.referee(callee)
	c.mu.Lock()
	c.xfer = transferInfo{by: by, to: t.number}
	c.mu.Unlock()
	c.outgoing(linestate.PhaseAnswered)
	if l := c.calleeLine(); l != "" {
		c.note(l, actors.CallEvent{Phase: linestate.PhaseAnswered, Remote: c.caller.number})
	}
}

// referRelayed records the transfer when req, relayed by onInDialog, is
// a REFER its recipient accepted (2xx).
// A referral noted for a REFER that was not accepted is withdrawn
// (target: what referRelaying returned).
func (s *Server) referRelayed(req *sip.Request, final *sip.Response, c *call, callee *branch, target string) {
	if req.Method != sip.REFER {
		return
	}
	if final != nil && final.IsSuccess() {
		c.referAccepted(req, callee)
		return
	}
	if referee, _ := c.referee(callee); target != "" {
		s.referrals.take(referee, target, time.Now())
	}
}
