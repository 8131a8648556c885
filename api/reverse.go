package api

import (
	"context"
	"net/http"

	"github.com/ucgrid/ucgrid/actors/rights"
)

// ReverseService answers the reverse rights questions from the user
// grains: who holds a right over a user (Audience), and over whom a user
// holds it (Reach). The same concurrency contract as PresenceService;
// refusals wrap ErrLiveNotFound or ErrLiveInvalid.
type ReverseService interface {
	Audience(ctx context.Context, target string, r rights.Right, minIndex uint64) (everyone bool, users []string, err error)
	Reach(ctx context.Context, viewer string, r rights.Right, minIndex uint64) (everyone bool, users []string, err error)
}

// usersWithRightJSON answers GET /v1/users/{id}/audience and …/reach.
type usersWithRightJSON struct {
	Right string `json:"right"`
	// Everyone: the global layer gives the right, so every user holds it
	// (audience) or the user holds it over everyone (reach); Users is
	// then empty.
	Everyone bool     `json:"everyone"`
	Users    []string `json:"users"`
}

func (h *Handler) reverseRoutes() {
	if h.cfg.Reverse == nil {
		return
	}
	h.mux.HandleFunc("GET /v1/users/{id}/audience", h.wrap(h.reverse(h.cfg.Reverse.Audience)))
	h.mux.HandleFunc("GET /v1/users/{id}/reach", h.wrap(h.reverse(h.cfg.Reverse.Reach)))
}

// reverse serves one reverse lookup for ?right= (default see_presence):
// to the user themself, and to those who may set presets on them (system
// roles, managers and owners of their groups) — as explain.
func (h *Handler) reverse(ask func(context.Context, string, rights.Right, uint64) (bool, []string, error)) routeFunc {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		name := r.URL.Query().Get("right")
		if name == "" {
			name = rights.SeePresence.String()
		}
		right, err := rights.ParseRight(name)
		if err != nil {
			return invalid("right", "%v", err)
		}
		if _, err := h.store.User(id); err != nil {
			return err
		}
		if c.id() != id {
			if err := h.mayPreset(c, id); err != nil {
				return err
			}
		}
		everyone, users, err := ask(r.Context(), id, right, c.index)
		if err != nil {
			return liveError(err, id)
		}
		if users == nil {
			users = []string{}
		}
		return h.ok(w, usersWithRightJSON{Right: right.String(), Everyone: everyone, Users: users})
	}
}
