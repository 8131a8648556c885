package api

import (
	"encoding/json"
	"net/http"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// forwardingJSON is a line's forwarding on the wire, as the caller may
// see it: the *_enabled flags with see_forwarding, the numbers with
// see_forwarding_number too ("" otherwise). enabled/destination are the
// unconditional forward (the original shape); unconditional is its
// number when on.
type forwardingJSON struct {
	Enabled         bool   `json:"enabled"`
	Destination     string `json:"destination"`
	Unconditional   string `json:"unconditional"`
	BusyEnabled     bool   `json:"busy_enabled"`
	Busy            string `json:"busy"`
	NoAnswerEnabled bool   `json:"no_answer_enabled"`
	NoAnswer        string `json:"no_answer"`
	NoAnswerS       int    `json:"no_answer_s"`
}

func forwardingOut(f linestate.Forwarding) forwardingJSON {
	out := forwardingJSON{Enabled: f.Enabled, Destination: f.Destination, BusyEnabled: f.Busy, Busy: f.BusyDestination,
		NoAnswerEnabled: f.NoAnswer, NoAnswer: f.NoAnswerDestination, NoAnswerS: f.NoAnswerS}
	if f.Enabled {
		out.Unconditional = f.Destination
	}
	return out
}

// forwardingInput is the body of PUT .../forwarding. Either the forwards
// to change, each a number or null/"" (off), omitted ones unchanged; or
// the original shape, enabled and destination, which sets the
// unconditional forward alone.
type forwardingInput struct {
	Enabled       *bool     `json:"enabled"`
	Destination   *string   `json:"destination"`
	Unconditional optNumber `json:"unconditional"`
	Busy          optNumber `json:"busy"`
	NoAnswer      optNumber `json:"no_answer"`
	NoAnswerS     *int      `json:"no_answer_s"`
}

// optNumber is a JSON string that may be null or absent (set false).
type optNumber struct {
	set bool
	v   string
}

func (o *optNumber) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.v = ""
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

// check validates in field by field; number is the line's own (a
// forward to itself is refused).
func (in *forwardingInput) check(number string) error {
	legacy := in.Enabled != nil || in.Destination != nil
	if legacy && in.Unconditional.set {
		return invalid("unconditional", "give either unconditional or enabled and destination, not both")
	}
	if !legacy && !in.Unconditional.set && !in.Busy.set && !in.NoAnswer.set && in.NoAnswerS == nil {
		return invalid("unconditional", "nothing to change: give unconditional, busy, no_answer or no_answer_s")
	}
	for _, d := range []struct {
		field string
		v     *string
	}{{"destination", in.Destination}, {"unconditional", &in.Unconditional.v}, {"busy", &in.Busy.v}, {"no_answer", &in.NoAnswer.v}} {
		if d.v == nil || *d.v == "" {
			continue
		}
		if err := checkNumber(d.field, *d.v); err != nil {
			return err
		}
		if *d.v == number {
			return invalid(d.field, "%q is the line itself", *d.v)
		}
	}
	if legacy && in.Enabled != nil && *in.Enabled && (in.Destination == nil || *in.Destination == "") {
		return invalid("destination", "required when enabled")
	}
	if in.NoAnswerS != nil && (*in.NoAnswerS < 0 || *in.NoAnswerS > linestate.MaxNoAnswerS) {
		return invalid("no_answer_s", "%d is not within 0 (the server's default) to %d seconds", *in.NoAnswerS, linestate.MaxNoAnswerS)
	}
	return nil
}

// change returns f with in (checked) applied.
func (in *forwardingInput) change(f linestate.Forwarding) linestate.Forwarding {
	if in.Enabled != nil || in.Destination != nil {
		f.Enabled, f.Destination = in.Enabled != nil && *in.Enabled, ""
		if in.Destination != nil {
			f.Destination = *in.Destination
		}
	}
	if in.Unconditional.set {
		f.Enabled, f.Destination = in.Unconditional.v != "", in.Unconditional.v
	}
	if in.Busy.set {
		f.BusyDestination = in.Busy.v
	}
	if in.NoAnswer.set {
		f.NoAnswerDestination = in.NoAnswer.v
	}
	if in.NoAnswerS != nil {
		f.NoAnswerS = *in.NoAnswerS
	}
	return f
}

// putForwarding sets a line's forwarding (unconditional, on busy, on no
// answer): the owner, a holder of line1/line2_set_forwarding over the
// owner (per line kind), managers and owners of the owner's groups, and
// system roles. It writes SetLineForwarding, which changes nothing else
// of the line. The answer is the forwarding as the caller may see it.
func (h *Handler) putForwarding(w http.ResponseWriter, r *http.Request, c *caller) error {
	number, err := pathNumber(r, "number")
	if err != nil {
		return err
	}
	var in forwardingInput
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := in.check(number); err != nil {
		return err
	}
	old, err := h.store.Line(number)
	if err != nil {
		return err
	}
	held, err := h.forwardingRights(c, old.Owner)
	if err != nil {
		return err
	}
	model := linestate.Line{Number: number, Kind: dirrights.LineKind(old)}
	lr := rights.LineView(held, model.Kind)
	if !lr.SetForwarding {
		return forbidden("forwarding of line %s: needs the owner, %s over %q, or an administrator of the owner", number, setForwardingRight(model.Kind), old.Owner)
	}
	for _, d := range in.destinations() {
		if err := h.checkReachable(d.field, old.Owner, d.number); err != nil {
			return err
		}
	}
	next, err := linestate.SetForwarding(model, in.change(dirrights.Forwarding(old)), held)
	if err != nil {
		return invalid("unconditional", "%v", err)
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{
		Number: number, Forwarding: dirrights.ForwardingRecord(next.Forwarding), Set: in.set()}}}); err != nil {
		return err
	}
	if stored, err := h.store.Line(number); err == nil { // with what another change set meanwhile
		next.Forwarding = dirrights.Forwarding(stored)
	}
	return h.ok(w, forwardingOut(linestate.ViewForwarding(next.Forwarding, lr.SeeForwardingNumber)))
}

// set names the forwards in changes (dirpb.SetLineForwarding.set): the
// directory takes those and keeps the others as they are then, so two
// PUTs of different forwards at the same moment both land.
func (in *forwardingInput) set() []string {
	var out []string
	if in.Enabled != nil || in.Destination != nil || in.Unconditional.set {
		out = append(out, "unconditional")
	}
	if in.Busy.set {
		out = append(out, "busy")
	}
	if in.NoAnswer.set {
		out = append(out, "no_answer")
	}
	if in.NoAnswerS != nil {
		out = append(out, "no_answer_s")
	}
	return out
}

// getForwarding shows a line's forwarding as the caller may see it (as
// putForwarding answers). A line the caller may neither see nor change
// the forwarding of answers the same 404 as an unknown line.
func (h *Handler) getForwarding(w http.ResponseWriter, r *http.Request, c *caller) error {
	number, err := pathNumber(r, "number")
	if err != nil {
		return err
	}
	l, err := h.store.Line(number)
	if isNotFound(err) {
		return errLineHidden(number)
	}
	if err != nil {
		return err
	}
	held, err := h.forwardingRights(c, l.Owner)
	if err != nil {
		return err
	}
	lr := rights.LineView(held, dirrights.LineKind(l))
	if !lr.SeeForwarding && !lr.SetForwarding {
		return errLineHidden(number)
	}
	var f linestate.Forwarding
	if lr.SeeForwarding {
		f = linestate.ViewForwarding(dirrights.Forwarding(l), lr.SeeForwardingNumber)
	}
	return h.ok(w, forwardingOut(f))
}

// forwardingRights is what the caller holds over owner for forwarding:
// everything for the owner and administrators, else the rights engine's
// effective set.
func (h *Handler) forwardingRights(c *caller, owner string) (rights.Set, error) {
	if c.id() == owner || h.mayManageLinesOf(c, owner) == nil {
		return rights.All, nil
	}
	t, err := dirrights.LoadTarget(h.store, owner)
	if err != nil {
		return 0, err
	}
	return rights.Effective(t.Pair(c.id())), nil
}

func setForwardingRight(k rights.LineKind) string {
	if k == rights.SecondaryLine {
		return "line2_set_forwarding"
	}
	return "line1_set_forwarding"
}

// checkReachable refuses a forwarding destination the line's owner could
// not dial (docs/api.md, "Forwarding"): it must be a line or a call group
// of the directory, a line's public number, or a number the dial plan
// routes and the owner's class of service allows. The call path checks
// again when a call is forwarded (the plan may change meanwhile).
func (h *Handler) checkReachable(field, owner, number string) error {
	if _, err := h.store.Line(number); err == nil || !isNotFound(err) {
		return err
	}
	if g, err := h.store.GroupByNumber(number); err == nil && g.TakesSIPCalls() {
		return nil
	} else if err != nil && !isNotFound(err) {
		return err
	}
	if _, ok, err := h.store.LineByE164(number); ok || err != nil {
		return err
	}
	plan, err := h.store.CompiledDialPlan()
	if err != nil {
		return err
	}
	route, ok := plan.Route(number)
	if !ok {
		return invalid(field, "%q is neither a number of the directory nor one the dial plan routes", number)
	}
	class, err := h.store.CallClass(owner)
	if err != nil {
		return err
	}
	if !class.Allows(route) {
		return invalid(field, "%q needs call class %s (dial plan rule %q); the line's owner %q has %s", number, route.Class, route.Name, owner, class)
	}
	return nil
}

// destinations are the numbers in sets, with their field names.
func (in *forwardingInput) destinations() []struct{ field, number string } {
	var out []struct{ field, number string }
	add := func(field string, v *string) {
		if v != nil && *v != "" {
			out = append(out, struct{ field, number string }{field, *v})
		}
	}
	add("destination", in.Destination)
	if in.Unconditional.set {
		add("unconditional", &in.Unconditional.v)
	}
	if in.Busy.set {
		add("busy", &in.Busy.v)
	}
	if in.NoAnswer.set {
		add("no_answer", &in.NoAnswer.v)
	}
	return out
}
