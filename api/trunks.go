package api

import (
	"net/http"
	"net/netip"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// trunkJSON is a SIP trunk: the source prefixes allowed to send calls
// without digest authentication.
type trunkJSON struct {
	ID        string   `json:"id,omitempty"`
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	// Outbound is where calls out through the trunk go; absent: the trunk
	// only takes calls in.
	Outbound *outboundJSON `json:"outbound,omitempty"`
	// Registration is the state of the registration at the upstream (GET
	// only, when outbound.register is set).
	Registration *TrunkRegistration `json:"registration,omitempty"`
}

func trunkOut(t *dirpb.Trunk) trunkJSON {
	return trunkJSON{ID: t.Id, Name: t.Name, Addresses: nonNil(t.Addresses), Outbound: outboundOut(t.Outbound)}
}

// Trunks are system-wide (not scoped to groups here): system roles only.
func (h *Handler) putTrunk(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in trunkJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return invalid("id", "%q differs from the id in the path %q", in.ID, id)
	}
	if err := checkText("name", in.Name, maxText); err != nil {
		return err
	}
	if len(in.Addresses) > maxList {
		return invalid("addresses", "more than %d prefixes", maxList)
	}
	t := &dirpb.Trunk{Id: id, Name: in.Name}
	for i, a := range in.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return invalid("addresses["+itoa(i)+"]", "%q is not a CIDR prefix (e.g. 192.0.2.0/24, 2001:db8::/32)", a)
		}
		if err := persistence.CheckTrunkPrefix(p, h.cfg.AllowWideTrunks); err != nil {
			return invalid("addresses["+itoa(i)+"]", "%s is wider than /%d for IPv4 or /%d for IPv6: every host in it could call without authentication (a node started with --allow-wide-trunks accepts it)",
				p.Masked(), persistence.MinTrunkBitsIPv4, persistence.MinTrunkBitsIPv6)
		}
		t.Addresses = append(t.Addresses, p.Masked().String())
	}
	if !c.subject.IsSystem() {
		return forbidden("trunks are configured by system roles")
	}
	old, err := h.store.Trunk(id)
	if err != nil && !isNotFound(err) {
		return err
	}
	if t.Outbound, err = outboundRecord(in.Outbound, old.GetOutbound()); err != nil {
		return err
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: t}}}); err != nil {
		return err
	}
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, trunkOut(t))
	return nil
}

func (h *Handler) getTrunk(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if !c.subject.IsSystem() {
		return forbidden("trunks are shown to system roles")
	}
	t, err := h.store.Trunk(id)
	if err != nil {
		return err
	}
	out := trunkOut(t)
	if h.cfg.TrunkStatus != nil && t.GetOutbound().GetRegister() {
		if reg, ok := h.cfg.TrunkStatus.TrunkRegistration(id); ok {
			out.Registration = &reg
		}
	}
	return h.ok(w, out)
}

func (h *Handler) deleteTrunk(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if !c.subject.IsSystem() {
		return forbidden("trunks are configured by system roles")
	}
	if _, err := h.store.Trunk(id); err != nil {
		return err
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_DeleteTrunk{DeleteTrunk: &dirpb.DeleteTrunk{Id: id}}}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listTrunks(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("trunks are shown to system roles")
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	trunks, next, err := h.store.ListTrunks(after, limit)
	if err != nil {
		return err
	}
	out := page[trunkJSON]{Items: make([]trunkJSON, len(trunks)), Next: next}
	for i, t := range trunks {
		out.Items[i] = trunkOut(t)
	}
	return h.ok(w, out)
}
