package sip

import (
	"context"
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Call pickup (docs/sip.md): a line picks up a call ringing on another
// line whose pickup right (line1_pickup / line2_pickup) it holds:
//
//   - *8 picks up the oldest call ringing on any such line (group pickup);
//   - **NUMBER picks up the call ringing on line NUMBER (directed);
//   - an INVITE with Replaces (RFC 3891) naming a ringing call, as BLF
//     keys send it, is the directed form too.
//
// The ringing call is looked for in this node's call table first and
// then, through the line grains, on the other nodes (pickupsearch.go);
// one another node holds is picked up there (pickuppeer.go). The proxy
// holding the call turns the picker's INVITE into an INVITE with
// Replaces to the caller's Contact; the caller's phone swaps the ringing
// call for the picker's, and the ringing phones are cancelled as
// completed elsewhere.

// pickupRequest is what a picker asked for.
type pickupRequest struct {
	line   string // directed: the ringing line; "" for group pickup
	callID string // Replaces: the ringing call's Call-ID
	// hint is, with Replaces, the Request-URI's number: the line the
	// named call rings on when it is a line (BLF keys call the line they
	// watch), where another node's call is looked for.
	hint string
}

// pickupTarget recognises the pickup codes and Replaces.
func pickupTarget(number string, req *sip.Request) (pickupRequest, bool) {
	if h := req.GetHeader("Replaces"); h != nil {
		id, _, _ := strings.Cut(h.Value(), ";")
		return pickupRequest{callID: strings.TrimSpace(id), hint: number}, true
	}
	switch {
	case number == "*8":
		return pickupRequest{}, true
	case strings.HasPrefix(number, "**") && len(number) > 2:
		return pickupRequest{line: number[2:]}, true
	}
	return pickupRequest{}, false
}

// pickup finds the ringing call and checks the picker's right; it
// answers 403 without the right, 404 when nothing rings. A directed
// pickup of a call ringing here asks no grain; group pickup asks the
// lines the picker may pick up for an older call on another node. An
// INVITE another node passed on (party.pickupOf) picks up here only.
func (s *Server) pickup(c *call, p pickupRequest) outcome {
	if c.caller.line == nil {
		return outcome{status: sip.StatusForbidden, reason: "Pickup Needs A Line"}
	}
	picker := c.caller.line.GetOwner()
	if c.caller.pickupOf != "" {
		p.callID = c.caller.pickupOf
	}
	local, denied := s.findRinging(picker, p, c)
	if c.caller.pickupOf != "" || (local != nil && (p.line != "" || p.callID != "")) {
		return s.pickupFound(c, local, denied)
	}
	remote, remoteDenied := s.findRingingElsewhere(picker, p, c)
	for _, rc := range remote {
		if local != nil && !rc.started.Before(local.start) {
			break
		}
		if !s.nodeAnswers(rc.node) {
			continue // a node that failed: its calls linger in the line grains until pruned
		}
		if o := c.pickupElsewhere(rc); !o.notFound() {
			return o
		}
		// gone meanwhile (answered, ended): the next one
	}
	return s.pickupFound(c, local, denied || remoteDenied)
}

// maxPickupTries bounds the calls on other nodes one pickup tries when
// the ones before were gone.
const maxPickupTries = 3

// notFound reports an unanswered pickup that found no call to pick up.
func (o outcome) notFound() bool {
	if o.answered || o.cancelled {
		return false
	}
	if o.res != nil {
		return o.res.StatusCode == sip.StatusNotFound
	}
	return o.status == sip.StatusNotFound
}

// pickupFound picks up ringing, a call of this node; nil answers 403
// when a ringing call was denied, else 404.
func (s *Server) pickupFound(c *call, ringing *call, denied bool) outcome {
	if ringing == nil {
		if denied {
			return outcome{status: sip.StatusForbidden, reason: "No Pickup Right"}
		}
		return outcome{status: sip.StatusNotFound, reason: "No Call To Pick Up"}
	}
	contact := ringing.req.Contact()
	fromTag, _ := ringing.req.From().Params.Get("tag")
	toTag := ringing.earlyTag()
	if contact == nil || toTag == "" {
		return outcome{status: sip.StatusNotFound, reason: "No Call To Pick Up"}
	}
	replaces := ringing.id + ";to-tag=" + toTag + ";from-tag=" + fromTag + ";early-only"
	st := c.ringReplaces(contact.Address.String(), replaces)
	if st.answered {
		ringing.mu.Lock()
		ringing.pickedUp = true
		ringing.mu.Unlock()
		ringing.cancelAll(`SIP;cause=200;text="Call completed elsewhere"`)
		return outcome{answered: true}
	}
	if st.cancelled {
		return outcome{cancelled: true}
	}
	return outcome{res: st.best, status: sip.StatusNotFound, reason: "No Call To Pick Up"}
}

// findRinging returns the call of this node to pick up, oldest first;
// denied says a ringing call was found but the picker lacks the right.
func (s *Server) findRinging(picker string, p pickupRequest, self *call) (*call, bool) {
	var best *call
	denied := false
	for _, rc := range s.calls.all() {
		if rc == self || (p.callID != "" && rc.id != p.callID) {
			continue
		}
		for _, line := range rc.ringingLines() {
			if p.line != "" && line != p.line {
				continue
			}
			if !s.mayPickUp(picker, line) {
				denied = true
				continue
			}
			if best == nil || rc.start.Before(best.start) {
				best = rc
			}
		}
	}
	return best, denied
}

// mayPickUp reports whether user holds the pickup right of line.
func (s *Server) mayPickUp(user, number string) bool {
	line, err := s.cfg.Store.Line(number)
	if err != nil {
		if !errors.Is(err, persistence.ErrNotFound) {
			s.log.Warn("sip: read line", "err", err)
		}
		return false
	}
	if line.GetOwner() == user {
		return true
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.BackendTimeout)
	defer cancel()
	set, err := s.cfg.Backend.Rights(ctx, user, line.GetOwner())
	if err != nil {
		s.log.Warn("sip: rights for pickup", "err", err)
		return false
	}
	return rights.LineView(set, dirrights.LineKind(line)).Pickup
}

// ringingLines are the lines of an unanswered call whose phones ring.
func (c *call) ringingLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.winner != nil || c.finished || c.cancelled {
		return nil
	}
	out := make([]string, 0, len(c.rung))
	for l := range c.rung {
		out = append(out, l)
	}
	return out
}

// earlyTag is the To tag of one of the call's ringing branches.
func (c *call) earlyTag() string {
	c.mu.Lock()
	bs := append([]*branch(nil), c.branches...)
	c.mu.Unlock()
	for _, b := range bs {
		b.mu.Lock()
		tag, final := b.toTag, b.final
		b.mu.Unlock()
		if tag != "" && !final {
			return tag
		}
	}
	return ""
}

// cancelAll cancels every ringing branch of c.
func (c *call) cancelAll(reason string) {
	c.mu.Lock()
	bs := append([]*branch(nil), c.branches...)
	c.mu.Unlock()
	c.cancelBranches(bs, nil, reason)
}

// ringReplaces sends the picker's INVITE to the caller's contact with
// Replaces and waits for its answer.
func (c *call) ringReplaces(contact, replaces string) stageResult {
	c.forkReq = c.req.Clone()
	removeAll(c.forkReq, "Replaces")
	removeAll(c.forkReq, pickupHeader) // a grant from another node goes no further
	c.forkReq.AppendHeader(sip.NewHeader("Replaces", replaces))
	defer func() { c.forkReq = nil }()
	return c.ringStage([]ringTarget{{contacts: contactRegs(contact)}}, c.s.cfg.RingTimeout)
}

func contactRegs(contact string) []*dirpb.Registration {
	return []*dirpb.Registration{{Contact: contact}}
}
