package api

import (
	"net/http"
	"sort"

	"github.com/ucgrid/ucgrid/api/roles"
)

// meJSON is GET /v1/me: who the caller is and what the management API
// lets them do, so that a client (the console) shows only the pages the
// caller may use. It is advice for the display: every route still decides
// for itself.
type meJSON struct {
	ID          string        `json:"id"`
	DisplayName string        `json:"display_name"`
	SystemRole  string        `json:"system_role"`
	Groups      []meGroupJSON `json:"groups"`
	// Lines are the numbers of the caller's own lines.
	Lines []string `json:"lines"`
	May   mayJSON  `json:"may"`
}

// meGroupJSON is the caller's role in one group.
type meGroupJSON struct {
	Group string `json:"group"`
	Role  string `json:"role"`
}

// mayJSON lists the administrative actions the caller holds somewhere
// (roles.tsv as api/roles reads it). Those scoped to groups still apply
// only to the users the caller outranks in those groups.
type mayJSON struct {
	// CreateUsers: a system role, or manager or owner in a group.
	CreateUsers bool `json:"create_users"`
	// ManageMembers: edit, disable and reset the password of users, and
	// manage their lines and forwarding (a system role, or manager or
	// owner of one of their groups).
	ManageMembers bool `json:"manage_members"`
	// ListDirectory: list every user and line (system roles).
	ListDirectory bool `json:"list_directory"`
	// ManageTrunks: configure SIP trunks and the dial plan (system roles).
	ManageTrunks bool `json:"manage_trunks"`
	// ManageGlobal: set the global layer and see the directory sync
	// status (system roles).
	ManageGlobal bool `json:"manage_global"`
	// AppointSystemRoles: give or take system_admin and system_owner
	// (system owners only).
	AppointSystemRoles bool `json:"appoint_system_roles"`
	// SetServices: set a user's services and class of service (system
	// roles).
	SetServices bool `json:"set_services"`
}

// getMe answers who the caller is and what they may administer.
func (h *Handler) getMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	lines, err := h.store.LinesOf(c.id())
	if err != nil {
		return err
	}
	sub := c.subject
	out := meJSON{ID: c.id(), DisplayName: c.user.GetDisplayName(), SystemRole: c.user.GetSystemRole(),
		Groups: []meGroupJSON{}, Lines: make([]string, len(lines)),
		May: mayJSON{
			CreateUsers: sub.Anywhere(roles.CreateUser), ManageMembers: sub.Anywhere(roles.ManageMembers),
			ListDirectory: sub.IsSystem(), ManageTrunks: sub.IsSystem(), ManageGlobal: sub.IsSystem(),
			AppointSystemRoles: sub.MayAppointSystem(roles.SystemOwner), SetServices: sub.IsSystem(),
		}}
	for g, role := range sub.Groups {
		out.Groups = append(out.Groups, meGroupJSON{Group: g, Role: role.String()})
	}
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].Group < out.Groups[j].Group })
	for i, l := range lines {
		out.Lines[i] = l.Number
	}
	return h.ok(w, out)
}
