package api

import (
	"fmt"
	"net/http"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// servicesJSON is a user's effective services: the union of the global
// layer, the user's active groups and the user's own (rights.Services),
// with the sources of each ("global", "group:ID", "user"; every service is
// named, with an empty list when not held, like the rights explanation).
type servicesJSON struct {
	Services []string            `json:"services"`
	Because  map[string][]string `json:"because"`
}

// getServices answers GET /v1/users/{id}/services for the user and system
// roles.
func (h *Handler) getServices(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := h.store.User(id)
	if err != nil {
		return err
	}
	if c.id() != id && !c.subject.IsSystem() {
		return forbidden("the services of user %q are shown to the user and to system roles", id)
	}
	t, err := dirrights.LoadTarget(h.store, id)
	if err != nil {
		return err
	}
	own, err := rights.ParseServices(u.Services)
	if err != nil {
		return fmt.Errorf("api: stored services of user %q: %w", id, err)
	}
	e := rights.Services(id, t.GlobalServices, t.Groups, own)
	out := servicesJSON{Services: nonNil(e.Set.Names()), Because: make(map[string][]string, rights.NumServices)}
	for sv := rights.Service(0); sv < rights.NumServices; sv++ {
		srcs := make([]string, len(e.Because[sv]))
		for i, src := range e.Because[sv] {
			srcs[i] = src.String()
		}
		out.Because[sv.Name()] = srcs
	}
	return h.ok(w, out)
}
