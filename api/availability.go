package api

import (
	"net/http"
	"slices"

	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// availabilityJSON is a member's availability for a group's calls.
type availabilityJSON struct {
	LoggedIn *bool `json:"logged_in"`
}

// putAvailability logs a member in to or out of a group's calls: the
// member themself, the group's receptionists, group admins, managers and
// owners, and system roles (roles.SetAvailability); then 404 when the
// user is not a member of the group. It writes SetMemberAvailability, which
// changes nothing else of the group; the hunt skips logged-out members.
func (h *Handler) putAvailability(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	user, err := pathID(r, "user")
	if err != nil {
		return err
	}
	var in availabilityJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.LoggedIn == nil {
		return invalid("logged_in", "required: true logs the member in to the group's calls, false out")
	}
	g, err := h.store.Group(id)
	if err != nil {
		return err
	}
	if c.id() != user && !c.subject.InGroup(roles.SetAvailability, id) {
		return forbidden("members of group %q are logged in and out by themselves, its receptionists, group admins, managers and owners, and system roles", id)
	}
	if !slices.ContainsFunc(g.Members, func(m *dirpb.Member) bool { return m.User == user }) {
		return notFound("member of group "+id, user)
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_SetMemberAvailability{SetMemberAvailability: &dirpb.SetMemberAvailability{
		User: user, Groups: []string{id}, LoggedIn: *in.LoggedIn}}}); err != nil {
		return err
	}
	return h.ok(w, availabilityJSON{LoggedIn: in.LoggedIn})
}
