package api

import (
	"net/http"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The dial plan is system-wide: system roles only.
func (h *Handler) getDialPlan(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("the dial plan is shown to system roles")
	}
	p, err := h.store.DialPlan()
	if err != nil {
		return err
	}
	return h.ok(w, dialPlanOut(p))
}

func (h *Handler) putDialPlan(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("the dial plan is set by system roles")
	}
	var in dialPlanJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	p, err := h.dialPlanRecord(&in)
	if err != nil {
		return err
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutDialPlan{PutDialPlan: &dirpb.PutDialPlan{Plan: p}}}); err != nil {
		return err
	}
	return h.ok(w, dialPlanOut(p))
}
