package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// groupJSON is a group on the wire. Read-only fields (id, override,
// members[].primary, created_at, updated_at) are accepted in a PUT body and
// ignored: the override is set by PUT /v1/groups/{id}/override, primary
// comes from directory sync.
type groupJSON struct {
	ID      string       `json:"id,omitempty"`
	Name    string       `json:"name"`
	Active  bool         `json:"active"`
	Members []memberJSON `json:"members"`
	Leader  string       `json:"leader"`
	Deputy  string       `json:"deputy"`
	// DeputyUntil ends the deputy (RFC 3339; absent, null or "": no end):
	// from then on the group has none.
	DeputyUntil             *string         `json:"deputy_until,omitempty"`
	MemberLevel             *string         `json:"member_level,omitempty"`
	MemberRights            map[string]any  `json:"member_rights,omitempty"`
	LeaderLevel             *string         `json:"leader_level,omitempty"`
	LeaderRights            map[string]any  `json:"leader_rights,omitempty"`
	Services                []string        `json:"services"`
	JournalLeaderVisible    bool            `json:"journal_leader_visible"`
	JournalGroupVisible     bool            `json:"journal_group_visible"`
	JournalModifiable       bool            `json:"journal_modifiable"`
	MonitorGroups           []string        `json:"monitor_groups"`
	DisplayMembersOnMonitor bool            `json:"display_members_on_monitor"`
	Keys                    []keyJSON       `json:"keys"`
	Language                string          `json:"language"`
	Timezone                string          `json:"timezone"`
	OfficeHours             json.RawMessage `json:"office_hours,omitempty"`
	Override                *overrideJSON   `json:"override,omitempty"`
	CallGroup               callGroupJSON   `json:"call_group"`
	CreatedAt               *time.Time      `json:"created_at,omitempty"`
	UpdatedAt               *time.Time      `json:"updated_at,omitempty"`
	// Synced is read-only: set when the group comes from the LDAP sync.
	Synced *syncedJSON `json:"synced,omitempty"`
	// Site is the group's home site, whose nodes host the group's grain.
	// Omitted on PUT: kept (a new group: the site of the node taking the
	// request). Set by system roles.
	Site *string `json:"site,omitempty"`
}

type memberJSON struct {
	User    string `json:"user"`
	Role    string `json:"role"`
	Primary bool   `json:"primary"`
	// RingDelayS holds the member's ringing back in group calls, in every
	// strategy (actors/hunt: Member.RingDelay): 0 to the group's ring
	// timeout.
	RingDelayS int32 `json:"ring_delay_s"`
	// LoggedOut is read-only: a group PUT keeps the stored value
	// (PUT .../members/{user}/availability changes it).
	LoggedOut bool `json:"logged_out"`
	// Until ends the membership (RFC 3339; absent, null or "": no end).
	Until *string `json:"until,omitempty"`
	// Synced is read-only: the membership comes from the LDAP sync, which
	// removes only such members.
	Synced bool `json:"synced"`
}

type keyJSON struct {
	Label  string `json:"label"`
	Number string `json:"number"`
}

// overrideJSON is the receptionist override: until (RFC 3339, optional)
// ends an open or closed override, after which the office hours decide.
type overrideJSON struct {
	Mode  string  `json:"mode"`
	Until *string `json:"until,omitempty"`
}

type callGroupJSON struct {
	Mode           string `json:"mode"`
	Number         string `json:"number"`
	Strategy       string `json:"strategy"`
	RingTimeoutS   int32  `json:"ring_timeout_s"`
	MemberTimeoutS int32  `json:"member_timeout_s"`
	NoAnswerTarget string `json:"no_answer_target"`
	ClosedTarget   string `json:"closed_target"`
	SkipBusy       bool   `json:"skip_busy"`
}

// maxRingTimeout bounds call_group.ring_timeout_s: an hour.
const maxRingTimeout = 3600

// maxMemberTimeout bounds call_group.member_timeout_s in seconds: the
// hunt engine's limit (hunt.MaxRingTimeout).
const maxMemberTimeout = int32(hunt.MaxRingTimeout / time.Second)

// groupOut converts a stored group; the override is shown as it stands at
// now (an expired one as auto).
func groupOut(g *dirpb.Group, now time.Time) (groupJSON, error) {
	out := groupJSON{
		ID: g.Id, Name: g.Name, Active: g.Active, Leader: g.Leader, Deputy: g.Deputy,
		Services: nonNil(g.Services), JournalLeaderVisible: g.JournalLeaderVisible,
		JournalGroupVisible: g.JournalGroupVisible, JournalModifiable: g.JournalModifiable,
		MonitorGroups: nonNil(g.MonitorGroups), DisplayMembersOnMonitor: g.DisplayMembersOnMonitor,
		Language: g.Language, Timezone: g.Timezone, Members: make([]memberJSON, len(g.Members)),
		Keys: make([]keyJSON, len(g.Keys)), Override: overrideOut(g, now),
		CreatedAt: unixTime(g.CreatedUnix), UpdatedAt: unixTime(g.UpdatedUnix), Synced: syncedOut(g.Synced),
		Site: &g.HomeSite,
	}
	for i, m := range g.Members {
		out.Members[i] = memberJSON{User: m.User, Role: m.Role, Primary: m.Primary, RingDelayS: m.RingDelayS, LoggedOut: m.LoggedOut,
			Until: untilOut(m.UntilUnix), Synced: m.Synced}
	}
	if g.Deputy != "" {
		out.DeputyUntil = untilOut(g.DeputyUntilUnix)
	}
	for i, k := range g.Keys {
		out.Keys[i] = keyJSON{Label: k.Label, Number: k.Number}
	}
	if cg := g.CallGroup; cg != nil {
		out.CallGroup = callGroupJSON{Mode: cg.Mode, Number: cg.Number, Strategy: cg.Strategy, RingTimeoutS: cg.RingTimeoutS,
			MemberTimeoutS: cg.MemberTimeoutS, NoAnswerTarget: cg.NoAnswerTarget, ClosedTarget: cg.ClosedTarget, SkipBusy: cg.SkipBusy}
	}
	if out.CallGroup.Mode == "" {
		out.CallGroup.Mode = dirpb.ModeDisabled
	}
	var err error
	if out.MemberLevel, out.MemberRights, err = grantOut(g.MemberGrant); err != nil {
		return groupJSON{}, err
	}
	if out.LeaderLevel, out.LeaderRights, err = grantOut(g.LeaderGrant); err != nil {
		return groupJSON{}, err
	}
	out.OfficeHours, err = officeHoursOut(g.OfficeHours)
	return out, err
}

// overrideOut is the stored override at now: auto once until has passed.
func overrideOut(g *dirpb.Group, now time.Time) *overrideJSON {
	if g.Override == "" || g.Override == "auto" {
		return &overrideJSON{Mode: "auto"}
	}
	if g.OverrideUntilUnix == 0 {
		return &overrideJSON{Mode: g.Override}
	}
	until := time.Unix(g.OverrideUntilUnix, 0).UTC()
	if !now.Before(until) {
		return &overrideJSON{Mode: "auto"}
	}
	s := until.Format(time.RFC3339)
	return &overrideJSON{Mode: g.Override, Until: &s}
}

// record validates the wire group and converts it; stored values of the
// read-only fields are the caller's business.
func (h *Handler) groupRecord(id string, in *groupJSON) (*dirpb.Group, error) {
	if in.ID != "" && in.ID != id {
		return nil, invalid("id", "%q differs from the id in the path %q", in.ID, id)
	}
	g := &dirpb.Group{Id: id, Name: in.Name, Active: in.Active, Leader: in.Leader, Deputy: in.Deputy,
		JournalLeaderVisible: in.JournalLeaderVisible, JournalGroupVisible: in.JournalGroupVisible,
		JournalModifiable: in.JournalModifiable, DisplayMembersOnMonitor: in.DisplayMembersOnMonitor,
		Language: in.Language, Timezone: in.Timezone}
	steps := []func(*groupJSON, *dirpb.Group) error{
		h.groupPeople, groupGrants, groupPresentation, groupCallGroup, groupOfficeHours,
	}
	for _, step := range steps {
		if err := step(in, g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// groupPeople checks members, leader and deputy: valid, existing, unique.
func (h *Handler) groupPeople(in *groupJSON, g *dirpb.Group) error {
	if len(in.Members) > maxMembers {
		return invalid("members", "more than %d members", maxMembers)
	}
	seen := make(map[string]bool, len(in.Members))
	for i, m := range in.Members {
		field := "members[" + itoa(i) + "]"
		if err := checkID(field+".user", m.User); err != nil {
			return err
		}
		if seen[m.User] {
			return invalid(field+".user", "%q is listed twice", m.User)
		}
		seen[m.User] = true
		role, err := roles.ParseGroupRole(m.Role)
		if err != nil {
			return invalid(field+".role", "%q is not one of user, receptionist, group_admin, manager, owner", m.Role)
		}
		if err := h.mustExist(field+".user", m.User); err != nil {
			return err
		}
		if err := checkRingDelay(field+".ring_delay_s", m.RingDelayS, in.CallGroup.RingTimeoutS); err != nil {
			return err
		}
		until, err := parseUntil(field+".until", m.Until, h.cfg.Now())
		if err != nil {
			return err
		}
		g.Members = append(g.Members, &dirpb.Member{User: m.User, Role: role.String(), RingDelayS: m.RingDelayS, UntilUnix: until})
	}
	for _, f := range []struct{ name, v string }{{"leader", in.Leader}, {"deputy", in.Deputy}} {
		if f.v == "" {
			continue
		}
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
		if err := h.mustExist(f.name, f.v); err != nil {
			return err
		}
	}
	if in.Leader != "" && in.Leader == in.Deputy {
		return invalid("deputy", "%q is also the leader", in.Deputy)
	}
	until, err := parseUntil("deputy_until", in.DeputyUntil, h.cfg.Now())
	if err != nil {
		return err
	}
	if until != 0 && in.Deputy == "" {
		return invalid("deputy_until", "is set but the group has no deputy")
	}
	g.DeputyUntilUnix = until
	return nil
}

// checkRingDelay is a 400 naming field unless delay is from 0 to the
// group's ring timeout (ringTimeout, 0: the default). A delay equal to the
// ring timeout keeps the member from ringing at all.
func checkRingDelay(field string, delay, ringTimeout int32) error {
	limit := ringTimeout
	if limit <= 0 {
		limit = int32(hunt.DefaultRingTimeout / time.Second)
	}
	if delay < 0 || delay > limit {
		return invalid(field, "%d is not from 0 to the group's ring timeout (%d s)", delay, limit)
	}
	return nil
}

// sameRingDelays reports whether every member of b has the ring delay
// they had in a (0 when they were not a member): adding a member with a
// delay, or changing one, configures call handling.
func sameRingDelays(a, b *dirpb.Group) bool {
	return sameMemberValue(a, b, (*dirpb.Member).GetRingDelayS)
}

// sameMemberUntils reports whether every member of b ends when they did
// in a (never when they were not a member): setting or moving the end of
// a membership manages members.
func sameMemberUntils(a, b *dirpb.Group) bool {
	return sameMemberValue(a, b, (*dirpb.Member).GetUntilUnix)
}

// sameMemberValue reports whether every member of b has the value of
// they had in a (the zero value when they were not a member).
func sameMemberValue[T comparable](a, b *dirpb.Group, of func(*dirpb.Member) T) bool {
	old := make(map[string]T, len(a.Members))
	for _, m := range a.Members {
		old[m.User] = of(m)
	}
	for _, m := range b.Members {
		if old[m.User] != of(m) {
			return false
		}
	}
	return true
}

// mustExist is a 400 naming field when user id does not exist.
func (h *Handler) mustExist(field, id string) error {
	u, err := h.optionalUser(id)
	if err != nil {
		return err
	}
	if u == nil {
		return invalid(field, "user %q does not exist", id)
	}
	return nil
}

func groupGrants(in *groupJSON, g *dirpb.Group) error {
	mg, err := parseGrant("member_", in.MemberLevel, in.MemberRights, false)
	if err != nil {
		return err
	}
	lg, err := parseGrant("leader_", in.LeaderLevel, in.LeaderRights, false)
	if err != nil {
		return err
	}
	g.MemberGrant, g.LeaderGrant = storedGrant(mg), storedGrant(lg)
	g.Services, err = parseServices("services", in.Services)
	return err
}

func groupPresentation(in *groupJSON, g *dirpb.Group) error {
	if err := checkText("name", in.Name, maxText); err != nil {
		return err
	}
	if len(in.MonitorGroups) > maxList {
		return invalid("monitor_groups", "more than %d groups", maxList)
	}
	for i, id := range in.MonitorGroups {
		if err := checkID("monitor_groups["+itoa(i)+"]", id); err != nil {
			return err
		}
	}
	g.MonitorGroups = in.MonitorGroups
	if len(in.Keys) > maxList {
		return invalid("keys", "more than %d keys", maxList)
	}
	for i, k := range in.Keys {
		field := "keys[" + itoa(i) + "]"
		if err := checkText(field+".label", k.Label, maxText); err != nil {
			return err
		}
		if err := checkNumber(field+".number", k.Number); err != nil {
			return err
		}
		g.Keys = append(g.Keys, &dirpb.Key{Label: k.Label, Number: k.Number})
	}
	if err := checkLanguage("language", in.Language); err != nil {
		return err
	}
	return checkTimezone("timezone", in.Timezone)
}

func groupCallGroup(in *groupJSON, g *dirpb.Group) error {
	cg := in.CallGroup
	if cg.Mode == "" {
		cg.Mode = dirpb.ModeDisabled
	}
	if !slices.Contains(dirpb.CallModes[:], cg.Mode) {
		return invalid("call_group.mode", "%q is not one of "+strings.Join(dirpb.CallModes[:], ", "), cg.Mode)
	}
	strategy, err := hunt.ParseStrategy(cg.Strategy)
	if err != nil {
		return invalid("call_group.strategy", "%q is not one of "+strings.Join(dirpb.Strategies[:], ", "), cg.Strategy)
	}
	if cg.RingTimeoutS < 0 || cg.RingTimeoutS > maxRingTimeout {
		return invalid("call_group.ring_timeout_s", "%d is not from 0 (the default) to %d", cg.RingTimeoutS, maxRingTimeout)
	}
	if cg.MemberTimeoutS < 0 || cg.MemberTimeoutS > maxMemberTimeout {
		return invalid("call_group.member_timeout_s", "%d is not from 0 (the default, %s) to %d",
			cg.MemberTimeoutS, hunt.DefaultMemberTimeout, maxMemberTimeout)
	}
	for _, f := range []struct{ name, v string }{
		{"call_group.number", cg.Number}, {"call_group.no_answer_target", cg.NoAnswerTarget}, {"call_group.closed_target", cg.ClosedTarget},
	} {
		if f.v != "" {
			if err := checkNumber(f.name, f.v); err != nil {
				return err
			}
		}
	}
	if cg.Mode != dirpb.ModeDisabled && cg.Number == "" {
		return invalid("call_group.number", "required when mode is %q", cg.Mode)
	}
	g.CallGroup = &dirpb.CallGroup{Mode: cg.Mode, Number: cg.Number, Strategy: strategy.String(), RingTimeoutS: cg.RingTimeoutS,
		MemberTimeoutS: cg.MemberTimeoutS, NoAnswerTarget: cg.NoAnswerTarget, ClosedTarget: cg.ClosedTarget, SkipBusy: cg.SkipBusy}
	return nil
}

func groupOfficeHours(in *groupJSON, g *dirpb.Group) error {
	oh, err := officeHoursRecord(in.OfficeHours, in.Timezone)
	g.OfficeHours = oh
	return err
}

func (h *Handler) putGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in groupJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	g, err := h.groupRecord(id, &in)
	if err != nil {
		return err
	}
	old, err := h.optionalGroup(id)
	if err != nil {
		return err
	}
	keepGroupReadOnly(old, g)
	if g.HomeSite, err = h.homeSite(c.subject, in.Site, old.GetHomeSite(), old == nil); err != nil {
		return err
	}
	if err := h.authorizeGroupPut(c.subject, old, g); err != nil {
		return err
	}
	g.UpdatedUnix = h.cfg.Now().Unix()
	if old == nil {
		g.CreatedUnix = g.UpdatedUnix
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}}); err != nil {
		return err
	}
	out, err := groupOut(g, h.cfg.Now())
	if err != nil {
		return err
	}
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
	return nil
}

// keepGroupReadOnly carries the stored override, the sync's mark and the
// members' primary and synced flags over.
func keepGroupReadOnly(old, g *dirpb.Group) {
	if old == nil {
		return
	}
	g.Override, g.OverrideUntilUnix, g.CreatedUnix = old.Override, old.OverrideUntilUnix, old.CreatedUnix
	g.Synced = old.Synced
	was := map[string]*dirpb.Member{}
	for _, m := range old.Members {
		was[m.User] = m
	}
	for _, m := range g.Members {
		m.Primary, m.Synced = was[m.User].GetPrimary(), was[m.User].GetSynced()
	}
}

func (h *Handler) optionalGroup(id string) (*dirpb.Group, error) {
	g, err := h.store.Group(id)
	if isNotFound(err) {
		return nil, nil
	}
	return g, err
}

// authorizeGroupPut applies roles.tsv to a group write, per kind of
// change: creating needs ManageGroups; each changed part needs its action
// in this group; each member whose role changes needs MayAssign for the
// old and the new role (absent = not a member) and MayChangeRole; each
// member added needs MayPullIn.
func (h *Handler) authorizeGroupPut(sub roles.Subject, old, g *dirpb.Group) error {
	if old == nil {
		if !sub.IsSystem() {
			return forbidden("creating groups needs a system role")
		}
		return nil
	}
	if !mayWriteGroup(sub, g.Id) {
		return forbidden("group %q is configured by its group admins, managers and owners and by system roles", g.Id)
	}
	for _, part := range groupParts {
		if !part.same(old, g) && !sub.InGroup(part.action, g.Id) {
			return forbidden("%s: changing it needs %s in group %q", part.fields, part.action, g.Id)
		}
	}
	oldRoles, newRoles := memberRoles(old), memberRoles(g)
	for _, m := range g.Members {
		if err := checkAssign(sub, g.Id, m.User, oldRoles[m.User], newRoles[m.User]); err != nil {
			return err
		}
	}
	for _, m := range old.Members {
		if err := checkAssign(sub, g.Id, m.User, oldRoles[m.User], newRoles[m.User]); err != nil {
			return err
		}
	}
	return h.checkPullIns(sub, g.Id, oldRoles, g.Members)
}

// checkPullIns refuses adding a member who holds a role anywhere (a system
// role, or a membership of another group) unless sub outranks every one
// of them: otherwise adding someone would be the first step to
// administering them (their password, lines, presets, journal).
func (h *Handler) checkPullIns(sub roles.Subject, group string, oldRoles map[string]roles.GroupRole, members []*dirpb.Member) error {
	for _, m := range members {
		if _, was := oldRoles[m.User]; was {
			continue
		}
		t, err := h.holdingsOf(m.User)
		if err != nil {
			return err
		}
		delete(t.Groups, group)
		if !sub.MayPullIn(t) {
			return forbidden("members: adding %q to group %q needs a system role, or a role that outranks every role the user holds (they are a member of another group, or hold a system role)", m.User, group)
		}
	}
	return nil
}

// mayWriteGroup reports whether sub may PUT the group at all: it holds one
// of the configuring actions there. A receptionist only sets the override.
func mayWriteGroup(sub roles.Subject, group string) bool {
	for _, a := range []roles.Action{roles.ConfigureGroup, roles.ConfigureCallHandling, roles.ManageMembers, roles.AppointLeaders} {
		if sub.InGroup(a, group) {
			return true
		}
	}
	return false
}

func checkAssign(sub roles.Subject, group, user string, from, to roles.GroupRole) error {
	if from == to {
		return nil
	}
	if !sub.MayChangeRole(sub.ID == user, group, from, to) {
		return forbidden("members: changing %q from %q to %q in group %q needs a system role or a role there that outranks %q", user, from, to, group, from)
	}
	if sub.MayAssign(group, from) && sub.MayAssign(group, to) {
		return nil
	}
	return forbidden("members: changing %q from %q to %q is not yours to do in group %q (owners assign up to manager, managers up to manager, system roles all)",
		user, from, to, group)
}

func memberRoles(g *dirpb.Group) map[string]roles.GroupRole {
	out := make(map[string]roles.GroupRole, len(g.Members))
	for _, m := range g.Members {
		r, err := roles.ParseGroupRole(m.Role)
		if err != nil {
			r = roles.User // an unknown stored role weighs as the least
		}
		out[m.User] = r
	}
	return out
}

// groupPart is a set of group fields changed under one action.
type groupPart struct {
	fields string
	action roles.Action
	same   func(a, b *dirpb.Group) bool
}

var groupParts = []groupPart{
	{"active, member_level/rights, leader_level/rights, services, journal options", roles.ConfigureGroupRights,
		func(a, b *dirpb.Group) bool {
			return a.Active == b.Active && proto.Equal(a.MemberGrant, b.MemberGrant) && proto.Equal(a.LeaderGrant, b.LeaderGrant) &&
				slices.Equal(a.Services, b.Services) && a.JournalLeaderVisible == b.JournalLeaderVisible &&
				a.JournalGroupVisible == b.JournalGroupVisible && a.JournalModifiable == b.JournalModifiable
		}},
	{"leader, deputy, deputy_until", roles.AppointLeaders,
		func(a, b *dirpb.Group) bool {
			return a.Leader == b.Leader && a.Deputy == b.Deputy && a.DeputyUntilUnix == b.DeputyUntilUnix
		}},
	{"members[].until", roles.ManageMembers, sameMemberUntils},
	{"call_group, office_hours, language, timezone", roles.ConfigureCallHandling,
		func(a, b *dirpb.Group) bool {
			return proto.Equal(a.CallGroup, b.CallGroup) && proto.Equal(a.OfficeHours, b.OfficeHours) &&
				a.Language == b.Language && a.Timezone == b.Timezone
		}},
	{"members[].ring_delay_s", roles.ConfigureCallHandling, sameRingDelays},
	{"name, keys, monitor_groups, display_members_on_monitor", roles.ConfigureGroup,
		func(a, b *dirpb.Group) bool {
			return a.Name == b.Name && slices.EqualFunc(a.Keys, b.Keys, func(x, y *dirpb.Key) bool { return proto.Equal(x, y) }) &&
				slices.Equal(a.MonitorGroups, b.MonitorGroups) && a.DisplayMembersOnMonitor == b.DisplayMembersOnMonitor
		}},
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	g, err := h.store.Group(id)
	if err != nil {
		return err
	}
	if !c.subject.InGroup(roles.ViewGroup, id) && c.id() != g.Leader && c.id() != g.Deputy {
		return forbidden("group %q is shown to its members, leader and deputy and to system roles", id)
	}
	out, err := groupOut(g, h.cfg.Now())
	if err != nil {
		return err
	}
	return h.ok(w, out)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := h.store.Group(id); err != nil {
		return err
	}
	if !c.subject.IsSystem() {
		return forbidden("deleting groups needs a system role")
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_DeleteGroup{DeleteGroup: &dirpb.DeleteGroup{Id: id}}}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// putOverride sets the receptionist override of the office hours. It holds
// until set back to auto, or until its optional until.
func (h *Handler) putOverride(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in overrideJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	now := h.cfg.Now()
	until, err := parseOverride(&in, now)
	if err != nil {
		return err
	}
	old, err := h.store.Group(id)
	if err != nil {
		return err
	}
	if !c.subject.InGroup(roles.OverrideOfficeHours, id) {
		return forbidden("the override of group %q is set by its receptionists, group admins, managers and owners and by system roles", id)
	}
	g := proto.Clone(old).(*dirpb.Group)
	g.Override, g.OverrideUntilUnix, g.UpdatedUnix = in.Mode, until, now.Unix()
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}}); err != nil {
		return err
	}
	return h.ok(w, overrideOut(g, now))
}

// parseOverride checks the wire override and returns its end in Unix
// seconds (0 = none): until must be RFC 3339, in the future, and only
// with open or closed.
func parseOverride(in *overrideJSON, now time.Time) (int64, error) {
	if !slices.Contains(dirpb.OverrideModes[:], in.Mode) {
		return 0, invalid("mode", "%q is not one of open, closed, auto", in.Mode)
	}
	if in.Until == nil {
		return 0, nil
	}
	if in.Mode == dirpb.OverrideAuto {
		return 0, invalid("until", "only an open or closed override ends; auto follows the office hours already")
	}
	until, err := time.Parse(time.RFC3339, *in.Until)
	if err != nil {
		return 0, invalid("until", "%q is not an RFC 3339 time (e.g. 2026-03-02T18:00:00Z)", *in.Until)
	}
	if until.Unix() <= now.Unix() {
		return 0, invalid("until", "%s is not in the future", *in.Until)
	}
	return until.Unix(), nil
}

// listGroups pages through every group (system roles).
func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("listing all groups needs a system role")
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	groups, next, err := h.store.ListGroups(after, limit)
	if err != nil {
		return err
	}
	out, now := page[groupJSON]{Items: make([]groupJSON, len(groups)), Next: next}, h.cfg.Now()
	for i, g := range groups {
		if out.Items[i], err = groupOut(g, now); err != nil {
			return err
		}
	}
	return h.ok(w, out)
}
