package sip

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The search for a ringing call on the other nodes: the line grains know
// every call's progress and the node holding it (actors.CallEvent.Node),
// so the lines a pickup is about are asked (Backend.LineCalls) — the
// directed line, the line a Replaces INVITE is addressed to, or for
// group pickup every line the picker holds a pickup right over
// (pickupLines). The rights are checked on the call found, as for a call
// of this node (mayPickUp).

// Bounds of one search.
const (
	// maxPickupLines is the most lines a group pickup asks about: a
	// pickup right normally comes with a team (a few dozen lines); one
	// the global layer gives everyone would otherwise ask every line of
	// the directory. Beyond it the lines after the first maxPickupLines
	// (by number) are not searched on other nodes, with a WARN.
	maxPickupLines = 512
	// pickupAsks is how many line grains a search asks at once.
	pickupAsks = 16
)

// remoteRinging is a call ringing on a line, held by another node.
type remoteRinging struct {
	callID, line, node string
	started            time.Time
}

// lineCalls are the calls one line's grain reported.
type lineCalls struct {
	line  string
	calls []actors.LineCallInfo
}

// ringingElsewhere is the calls of reports that ring (incoming, not
// answered) on a node other than self and known (a call of this node is
// in its call table, the authority on it), without the picker's own
// INVITE own; only callID when it is not "". Oldest first; ties by call
// and line, so the order is the same on every node.
func ringingElsewhere(reports []lineCalls, callID, self, own string) []remoteRinging {
	var out []remoteRinging
	for _, r := range reports {
		for _, c := range r.calls {
			if c.Outgoing || c.Answered || c.Node == "" || c.Node == self || c.CallID == own ||
				(callID != "" && c.CallID != callID) {
				continue
			}
			out = append(out, remoteRinging{callID: c.CallID, line: r.line, node: c.Node, started: c.Started})
		}
	}
	slices.SortFunc(out, func(a, b remoteRinging) int {
		return cmp.Or(a.started.Compare(b.started), cmp.Compare(a.callID, b.callID), cmp.Compare(a.line, b.line))
	})
	return out
}

// findRingingElsewhere returns the calls of other nodes the picker may
// pick up for p, oldest first (at most maxPickupTries); denied says a
// ringing call was found but the picker lacks the right.
func (s *Server) findRingingElsewhere(picker string, p pickupRequest, self *call) ([]remoteRinging, bool) {
	found := ringingElsewhere(s.lineCallsOf(s.pickupSearchLines(picker, p)), p.callID, s.nodeURI(), self.id)
	allowed := map[string]bool{}
	var out []remoteRinging
	denied := false
	for _, rc := range found {
		ok, seen := allowed[rc.line]
		if !seen {
			ok = s.mayPickUp(picker, rc.line)
			allowed[rc.line] = ok
		}
		if !ok {
			denied = true
			continue
		}
		if out = append(out, rc); len(out) == maxPickupTries {
			break
		}
	}
	return out, denied
}

// pickupSearchLines are the lines asked about for p: the directed line,
// the line a Replaces INVITE is addressed to, or for group pickup the
// lines the picker holds a pickup right over.
func (s *Server) pickupSearchLines(picker string, p pickupRequest) []string {
	switch {
	case p.line != "":
		return []string{p.line}
	case p.callID != "":
		if p.hint == "" {
			return nil
		}
		if _, err := s.cfg.Store.Line(p.hint); err != nil {
			return nil // not a line: the call is looked for here only
		}
		return []string{p.hint}
	}
	lines, err := s.pickupLines(picker)
	if err != nil {
		s.log.Warn("sip: lines for group pickup", "err", err)
	}
	return lines
}

// pickupLines are the numbers of the lines user holds the pickup right
// over (dirrights.Reach of line1_pickup for primary lines, line2_pickup
// for the others), sorted, at most maxPickupLines.
func (s *Server) pickupLines(user string) ([]string, error) {
	var out []string
	for _, k := range []struct {
		right   rights.Right
		primary bool
	}{{rights.Line1Pickup, true}, {rights.Line2Pickup, false}} {
		everyone, users, err := dirrights.Reach(s.cfg.Store, user, k.right)
		if err != nil {
			return out, err
		}
		var lines []*dirpb.Line
		if everyone {
			lines, err = s.allLines()
		} else {
			lines, err = s.linesOf(users)
		}
		for _, l := range lines {
			if l.IsPrimary() == k.primary {
				out = append(out, l.GetNumber())
			}
		}
		if err != nil {
			return out, err
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxPickupLines {
		s.log.Warn("sip: group pickup searches the first lines only", "lines", len(out), "searched", maxPickupLines)
		out = out[:maxPickupLines]
	}
	return out, nil
}

// linesOf are the lines of users.
func (s *Server) linesOf(users []string) ([]*dirpb.Line, error) {
	var out []*dirpb.Line
	for _, u := range users {
		ls, err := s.cfg.Store.LinesOf(u)
		if err != nil && !errors.Is(err, persistence.ErrNotFound) {
			return out, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

// allLines are the directory's lines, up to one more than maxPickupLines.
func (s *Server) allLines() ([]*dirpb.Line, error) {
	var out []*dirpb.Line
	after := ""
	for len(out) <= maxPickupLines {
		page, next, err := s.cfg.Store.ListLines(after, 256)
		out = append(out, page...)
		if err != nil || next == "" {
			return out, err
		}
		after = next
	}
	return out, nil
}

// lineCallsOf asks the grains of lines for their calls, pickupAsks at a
// time; a line whose grain does not answer is left out (logged).
func (s *Server) lineCallsOf(lines []string) []lineCalls {
	out := make([]lineCalls, len(lines))
	sem := make(chan struct{}, pickupAsks)
	var wg sync.WaitGroup
	for i, l := range lines {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := s.backendCtx()
			defer cancel()
			calls, err := s.cfg.Backend.LineCalls(ctx, l)
			if err != nil && !errors.Is(err, actors.ErrNotFound) {
				s.log.Warn("sip: calls of line for pickup", "line", l, "err", err)
			}
			out[i] = lineCalls{line: l, calls: calls}
		}()
	}
	wg.Wait()
	return out
}

// ringingCallNamed reports whether callID names a call ringing now: in
// this node's call table or, when number (the Request-URI's user) is a
// line, on another node as the line's grain knows it. An INVITE with
// Replaces naming such a call is a pickup; naming any other (a connected
// dialog) it is an attended transfer, routed by its Request-URI.
func (s *Server) ringingCallNamed(callID, number string) bool {
	if rc := s.calls.get(callID); rc != nil {
		return len(rc.ringingLines()) > 0
	}
	lines := s.pickupSearchLines("", pickupRequest{callID: callID, hint: number})
	return len(ringingElsewhere(s.lineCallsOf(lines), callID, s.nodeURI(), "")) > 0
}
