package api

import (
	"errors"
	"net/http"

	"github.com/ucgrid/ucgrid/actors/presence"
)

// presenceJSON is a presence as the caller may see it. note is empty
// without see_note; idle is false unless the user shows idle.
type presenceJSON struct {
	State string `json:"state"`
	Note  string `json:"note"`
	Idle  bool   `json:"idle"`
}

// presencePut is a change: absent fields stay as they are.
type presencePut struct {
	State *string `json:"state"`
	Note  *string `json:"note"`
	Idle  *bool   `json:"idle"`
}

func (h *Handler) getPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v, visible, err := h.cfg.Presence.Presence(r.Context(), c.id(), id, c.index)
	if err != nil {
		return liveError(err, id)
	}
	if !visible {
		return forbidden("you may not see the presence of %q", id)
	}
	return h.ok(w, presenceOf(v))
}

func (h *Handler) putPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body presencePut
	if err := h.decodeBody(w, r, &body); err != nil {
		return err
	}
	var u presence.Update
	if body.State != nil {
		st, err := presence.ParseState(*body.State)
		if err != nil {
			return invalid("state", "%q is not one of available, away, busy, dnd, offline", *body.State)
		}
		u.State = &st
	}
	u.Note, u.Idle = body.Note, body.Idle
	if u.State == nil && u.Note == nil && u.Idle == nil {
		return invalid("state", "give at least one of state, note, idle")
	}
	v, err := h.cfg.Presence.SetPresence(r.Context(), c.id(), id, u, c.index)
	if err != nil {
		return liveError(err, id)
	}
	return h.ok(w, presenceOf(v))
}

func presenceOf(v presence.View) presenceJSON {
	return presenceJSON{State: v.State.String(), Note: v.Note, Idle: v.Idle}
}

// liveError maps a PresenceService refusal to its HTTP answer.
func liveError(err error, id string) error {
	switch {
	case errors.Is(err, ErrLiveForbidden):
		return forbidden("%s", err.Error())
	case errors.Is(err, ErrLiveNotFound):
		return notFound("user", id)
	case errors.Is(err, ErrLiveInvalid):
		// The handler checked the state; the grain refuses only the note.
		return invalid("note", "%s", err.Error())
	}
	return err
}
