package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// userJSON is a user on the wire. password is write-only; the read-only
// fields (id, created_at, updated_at) are accepted in a PUT body so that a
// GET answer can be sent back, and ignored (id must match the path).
// services is the user layer of services; omitted or null keeps the
// stored list, so a profile edit need not repeat it.
type userJSON struct {
	ID          string  `json:"id,omitempty"`
	DisplayName string  `json:"display_name"`
	Password    *string `json:"password,omitempty"`
	// CurrentPassword is required when users change their own password.
	CurrentPassword *string     `json:"current_password,omitempty"`
	SystemRole      string      `json:"system_role"`
	Contact         contactJSON `json:"contact"`
	Language        string      `json:"language"`
	Timezone        string      `json:"timezone"`
	IdleDisplay     bool        `json:"idle_display"`
	Disabled        bool        `json:"disabled"`
	Services        []string    `json:"services"`
	CreatedAt       *time.Time  `json:"created_at,omitempty"`
	UpdatedAt       *time.Time  `json:"updated_at,omitempty"`

	// CallClass is the class of service for calls beyond the directory
	// (internal, national, international; "" takes the global default).
	// Omitted on PUT: kept. Set by system roles.
	CallClass *string `json:"call_class,omitempty"`

	// Site is the user's home site, whose nodes host the user's and the
	// user's lines' grains. Omitted on PUT: kept (a new user: the site of
	// the node taking the request). Set by system roles.
	Site *string `json:"site,omitempty"`

	// Synced is read-only: set when the user comes from the LDAP sync.
	Synced *syncedJSON `json:"synced,omitempty"`
}

// contactJSON holds the contact fields of spec/contact_fields.tsv other
// than display_name.
type contactJSON struct {
	Picture          string   `json:"picture"`
	JobTitle         string   `json:"job_title"`
	Company          string   `json:"company"`
	Department       string   `json:"department"`
	Office           string   `json:"office"`
	BusinessAddress  string   `json:"business_address"`
	WorkPhone        string   `json:"work_phone"`
	BusinessPhone2   string   `json:"business_phone2"`
	Mobile           string   `json:"mobile"`
	Pager            string   `json:"pager"`
	PrivatePhone     string   `json:"private_phone"`
	AdditionalPhones []string `json:"additional_phones"`
	BusinessFax      string   `json:"business_fax"`
	Email            string   `json:"email"`
	SIPAddress       string   `json:"sip_address"`
	Website          string   `json:"website"`
}

func unixTime(s int64) *time.Time {
	if s == 0 {
		return nil
	}
	t := time.Unix(s, 0).UTC()
	return &t
}

func userOut(u *dirpb.User) userJSON {
	return userJSON{
		ID: u.Id, DisplayName: u.DisplayName, SystemRole: u.SystemRole, Contact: contactOut(u.Contact),
		Language: u.Language, Timezone: u.Timezone, IdleDisplay: u.IdleDisplay, Disabled: u.Disabled,
		Services: nonNil(u.Services), CallClass: &u.CallClass, CreatedAt: unixTime(u.CreatedUnix), UpdatedAt: unixTime(u.UpdatedUnix),
		Synced: syncedOut(u.Synced), Site: &u.HomeSite,
	}
}

func contactOut(c *dirpb.Contact) contactJSON {
	return contactJSON{
		Picture: c.GetPicture(), JobTitle: c.GetJobTitle(), Company: c.GetCompany(), Department: c.GetDepartment(),
		Office: c.GetOffice(), BusinessAddress: c.GetBusinessAddress(), WorkPhone: c.GetWorkPhone(),
		BusinessPhone2: c.GetBusinessPhone2(), Mobile: c.GetMobile(), Pager: c.GetPager(),
		PrivatePhone: c.GetPrivatePhone(), AdditionalPhones: nonNil(c.GetAdditionalPhones()),
		BusinessFax: c.GetBusinessFax(), Email: c.GetEmail(), SIPAddress: c.GetSipAddress(), Website: c.GetWebsite(),
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// contactFields pairs each contact field name with its value, for
// validation and the card.
func (c *contactJSON) textFields() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"job_title", c.JobTitle}, {"company", c.Company}, {"department", c.Department}, {"office", c.Office},
		{"work_phone", c.WorkPhone}, {"business_phone2", c.BusinessPhone2}, {"mobile", c.Mobile},
		{"pager", c.Pager}, {"private_phone", c.PrivatePhone}, {"business_fax", c.BusinessFax},
		{"sip_address", c.SIPAddress},
	}
}

func (c *contactJSON) validate() error {
	for _, f := range c.textFields() {
		if err := checkText("contact."+f.name, f.value, maxText); err != nil {
			return err
		}
	}
	if err := checkText("contact.business_address", c.BusinessAddress, maxLongText); err != nil {
		return err
	}
	if len(c.AdditionalPhones) > maxList {
		return invalid("contact.additional_phones", "more than %d numbers", maxList)
	}
	for _, p := range c.AdditionalPhones {
		if err := checkText("contact.additional_phones", p, maxText); err != nil {
			return err
		}
		if p == "" {
			return invalid("contact.additional_phones", "holds an empty number")
		}
	}
	if err := checkURL("contact.picture", c.Picture); err != nil {
		return err
	}
	if err := checkURL("contact.website", c.Website); err != nil {
		return err
	}
	return checkEmail("contact.email", c.Email)
}

func (c *contactJSON) record() *dirpb.Contact {
	return &dirpb.Contact{
		Picture: c.Picture, JobTitle: c.JobTitle, Company: c.Company, Department: c.Department, Office: c.Office,
		BusinessAddress: c.BusinessAddress, WorkPhone: c.WorkPhone, BusinessPhone2: c.BusinessPhone2,
		Mobile: c.Mobile, Pager: c.Pager, PrivatePhone: c.PrivatePhone, AdditionalPhones: c.AdditionalPhones,
		BusinessFax: c.BusinessFax, Email: c.Email, SipAddress: c.SIPAddress, Website: c.Website,
	}
}

func (in *userJSON) validate(id string) error {
	if in.ID != "" && in.ID != id {
		return invalid("id", "%q differs from the id in the path %q", in.ID, id)
	}
	if err := checkText("display_name", in.DisplayName, maxText); err != nil {
		return err
	}
	if _, err := roles.ParseSystemRole(in.SystemRole); err != nil {
		return invalid("system_role", "%q is not one of \"\", system_admin, system_owner", in.SystemRole)
	}
	if in.Password != nil && len(*in.Password) < password.MinLength {
		return invalid("password", "shorter than %d characters", password.MinLength)
	}
	if in.Password != nil && len(*in.Password) > maxText {
		return invalid("password", "longer than %d bytes", maxText)
	}
	if in.CurrentPassword != nil && len(*in.CurrentPassword) > maxText {
		return invalid("current_password", "longer than %d bytes", maxText)
	}
	if err := checkLanguage("language", in.Language); err != nil {
		return err
	}
	if err := checkTimezone("timezone", in.Timezone); err != nil {
		return err
	}
	if in.Services != nil {
		services, err := parseServices("services", in.Services)
		if err != nil {
			return err
		}
		in.Services = nonNil(services)
	}
	if in.CallClass != nil && *in.CallClass != "" {
		if _, err := dialplan.ParseClass(*in.CallClass); err != nil {
			return invalid("call_class", "%q is not one of \"\" (the global default), internal, national, international", *in.CallClass)
		}
	}
	return in.Contact.validate()
}

// putUser creates or replaces a user. An omitted password keeps the
// current one (a new user without one cannot sign in until given one).
func (h *Handler) putUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in userJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := in.validate(id); err != nil {
		return err
	}
	old, err := h.optionalUser(id)
	if err != nil {
		return err
	}
	u := &dirpb.User{Id: id, DisplayName: in.DisplayName, SystemRole: in.SystemRole, Contact: in.Contact.record(),
		Language: in.Language, Timezone: in.Timezone, IdleDisplay: in.IdleDisplay, Disabled: in.Disabled,
		Services: in.Services, UpdatedUnix: h.cfg.Now().Unix()}
	if in.Services == nil {
		u.Services = old.GetServices()
	}
	u.CallClass = old.GetCallClass()
	u.Synced = old.GetSynced() // read-only: the sync's mark survives an edit
	if in.CallClass != nil {
		u.CallClass = *in.CallClass
	}
	if u.HomeSite, err = h.homeSite(c.subject, in.Site, old.GetHomeSite(), old == nil); err != nil {
		return err
	}
	if err := h.authorizeUserPut(c, old, u); err != nil {
		return err
	}
	if err := h.checkOwnPasswordChange(r, c, id, &in); err != nil {
		return err
	}
	if in.Password != nil {
		if u.PasswordHash, err = password.Hash(*in.Password, h.cfg.Passwords); err != nil {
			return err
		}
	}
	if old == nil {
		u.CreatedUnix = u.UpdatedUnix
	}
	// A new password or disabling signs every client out: the directory
	// drops the user's bearer tokens in the same command, on every node.
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}}); err != nil {
		return err
	}
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, userOut(u))
	return nil
}

// optionalUser reads a user; nil without error when there is none.
func (h *Handler) optionalUser(id string) (*dirpb.User, error) {
	u, err := h.store.User(id)
	if errors.Is(err, persistence.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// holdingsOf reads the roles user holds: the system role and the role in
// each group. An unknown stored role weighs as the most (owner, or
// system_owner) here: unreadable data never makes a user easier to
// administer.
func (h *Handler) holdingsOf(user string) (roles.Holdings, error) {
	var out roles.Holdings
	u, err := h.optionalUser(user)
	if err != nil || u == nil {
		return out, err
	}
	if out.System, err = roles.ParseSystemRole(u.SystemRole); err != nil {
		out.System = roles.SystemOwner
	}
	ms, err := h.store.GroupsOf(user)
	if err != nil {
		return out, err
	}
	out.Groups = make(map[string]roles.GroupRole, len(ms))
	for _, m := range ms {
		r, err := roles.ParseGroupRole(m.Role)
		if err != nil {
			r = roles.Owner
		}
		out.Groups[m.Group] = r
	}
	return out, nil
}

// mayAdminister is a 403 unless c may do a over user (roles.MayAdminister):
// system roles within their limits, or a group role that holds a in one of
// the user's groups and outranks every role the user holds.
func (h *Handler) mayAdminister(c *caller, a roles.Action, user, what string) error {
	t, err := h.holdingsOf(user)
	if err != nil {
		return err
	}
	if !c.subject.MayAdminister(a, t) {
		return forbidden("%s of %q: needs a system role, or a role in one of the user's groups that outranks every role the user holds in every group (docs/api.md, Administrative scope)", what, clip(user))
	}
	return nil
}

// groupsOf lists the ids of the groups user is a member of.
func (h *Handler) groupsOf(user string) ([]string, error) {
	ms, err := h.store.GroupsOf(user)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.Group
	}
	return ids, nil
}

// authorizeUserPut applies roles.tsv to a user write: creating needs
// CreateUser; replacing needs MayAdminister (ManageMembers), which covers
// the password, disabling and contact data; the user themself changes only
// the profile; system roles change only by a system owner; services (a
// rights layer, like a group's) only by system roles.
func (h *Handler) authorizeUserPut(c *caller, old, u *dirpb.User) error {
	sub := c.subject
	if !sub.IsSystem() && !slices.Equal(old.GetServices(), u.Services) {
		return forbidden("services: a user's services are set by system roles")
	}
	if !sub.IsSystem() && old.GetCallClass() != u.CallClass {
		return forbidden("call_class: a user's class of service is set by system roles")
	}
	oldRole := roles.NoSystemRole
	if old != nil {
		oldRole, _ = roles.ParseSystemRole(old.SystemRole) // unknown stored role: treated as none
	}
	newRole, _ := roles.ParseSystemRole(u.SystemRole) // validated by the caller
	if oldRole != newRole && !(sub.MayAppointSystem(oldRole) && sub.MayAppointSystem(newRole)) {
		return forbidden("system_role: only a system_owner gives or takes away system_admin and system_owner")
	}
	if old == nil {
		if !sub.Anywhere(roles.CreateUser) {
			return forbidden("creating users needs the manager or owner role in a group, or a system role")
		}
		return nil
	}
	if c.id() != old.Id {
		if err := h.mayAdminister(c, roles.ManageMembers, old.Id, "settings, contact data and password"); err != nil {
			return err
		}
	}
	if c.id() == old.Id && old.Disabled != u.Disabled {
		return forbidden("disabled: you cannot change whether your own account is disabled")
	}
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := h.store.User(id)
	if err != nil {
		return err
	}
	if err := h.mayViewUser(c, id); err != nil {
		return err
	}
	return h.ok(w, userOut(u))
}

// mayViewUser allows the full record to the user, system roles and the
// administrative roles of the user's groups; others read the card.
func (h *Handler) mayViewUser(c *caller, id string) error {
	if c.id() == id || c.subject.IsSystem() {
		return nil
	}
	groups, err := h.groupsOf(id)
	if err != nil {
		return err
	}
	if !c.subject.InAnyGroup(roles.ViewMember, groups) {
		return forbidden("user %q: the full record is shown to the user, system roles and administrators of the user's groups; read /v1/users/%s/card", id, id)
	}
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := h.store.User(id)
	if err != nil {
		return err
	}
	role, _ := roles.ParseSystemRole(u.SystemRole) // unknown stored role: treated as none
	switch {
	case !c.subject.IsSystem():
		return forbidden("deleting users needs a system role")
	case !c.subject.MayAppointSystem(role):
		return forbidden("user %q holds %s: only a system_owner deletes it", id, role)
	case id == c.id():
		return forbidden("you cannot delete your own account")
	}
	// The directory drops the user's bearer tokens with it.
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_DeleteUser{DeleteUser: &dirpb.DeleteUser{Id: id}}}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listUsers pages through every user (system roles).
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("listing all users needs a system role; search with /v1/directory?q=")
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	users, next, err := h.store.ListUsers(after, limit)
	if err != nil {
		return err
	}
	items := make([]userJSON, len(users))
	for i, u := range users {
		items[i] = userOut(u)
	}
	return h.ok(w, page[userJSON]{Items: items, Next: next})
}

// checkOwnPasswordChange asks users who set their own password for the
// current one (current_password): a stolen session or an unlocked screen
// must not be enough to take the account over. A wrong one counts as a
// failed sign-in of the user from this address.
func (h *Handler) checkOwnPasswordChange(r *http.Request, c *caller, id string, in *userJSON) error {
	if in.Password == nil || id != c.id() {
		return nil
	}
	if in.CurrentPassword == nil || *in.CurrentPassword == "" {
		return invalid("current_password", "required to change your own password")
	}
	return h.auth.confirm(r.Context(), c.id(), *in.CurrentPassword, h.cfg.clientAddr(r), "current_password")
}
