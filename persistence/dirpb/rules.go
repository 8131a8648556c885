package dirpb

import "time"

// The rules below are about one record alone, so they live with it, once:
// the validators (persistence), the API, the hunt engine (actors/hunt),
// the group and line grains (actors) and the SIP proxy (sip) all read
// them from here. A rule that needs another record lives on
// persistence.Store instead (InService, PrimaryLine, RingLine).

// Call group modes (CallGroup.mode).
const (
	ModeDisabled = "disabled"
	ModeSIP      = "sip"
	ModeExternal = "external"
)

// CallModes lists every CallGroup.mode the directory accepts. The
// validators store an empty mode as ModeDisabled; a record stored before
// modes existed may still hold "", which TakesSIPCalls reads as ModeSIP.
var CallModes = [...]string{ModeDisabled, ModeSIP, ModeExternal}

// Hunt strategies (CallGroup.strategy).
const (
	StrategyRingAll     = "ring_all"
	StrategySequential  = "sequential"
	StrategyRoundRobin  = "round_robin"
	StrategyLongestIdle = "longest_idle"
)

// Strategies lists every CallGroup.strategy name, in the order of
// hunt.Strategy's values (hunt names its strategies from this list). An
// empty strategy is accepted too and means StrategyRingAll.
var Strategies = [...]string{StrategyRingAll, StrategySequential, StrategyRoundRobin, StrategyLongestIdle}

// Line kinds (Line.kind).
const (
	KindPrimary   = "primary"
	KindSecondary = "secondary"
)

// LineKinds lists every Line.kind the directory stores. A line put with
// no kind gets one when it is stored (persistence, put_line); a line
// stored before kinds existed may still have none, and is primary.
var LineKinds = [...]string{KindPrimary, KindSecondary}

// Member roles (Member.role): a member's role within one group, in the
// order of trust (api/roles names its GroupRole values from this list).
const (
	RoleUser         = "user"
	RoleReceptionist = "receptionist"
	RoleGroupAdmin   = "group_admin"
	RoleManager      = "manager"
	RoleOwner        = "owner"
)

// MemberRoles lists every Member.role.
var MemberRoles = [...]string{RoleUser, RoleReceptionist, RoleGroupAdmin, RoleManager, RoleOwner}

// System roles (User.system_role); "" is an ordinary user.
const (
	SystemAdmin = "system_admin"
	SystemOwner = "system_owner"
)

// SystemRoles lists every User.system_role, "" first (api/roles names its
// SystemRole values from this list).
var SystemRoles = [...]string{"", SystemAdmin, SystemOwner}

// Office-hours override modes (Group.override); the directory stores ""
// for a group never overridden, which is OverrideAuto.
const (
	OverrideAuto   = "auto"
	OverrideOpen   = "open"
	OverrideClosed = "closed"
)

// OverrideModes lists every Group.override, in the order of
// officehours.Mode's values (officehours names its modes from this list).
var OverrideModes = [...]string{OverrideAuto, OverrideOpen, OverrideClosed}

// TakesSIPCalls reports whether g takes SIP calls at its call group's
// number: it has a call group with a number, in mode ModeSIP (or no mode,
// as stored before modes existed). Neither office hours (a closed group
// takes the call to its closed target) nor Group.active (a rights
// setting) matter.
func (g *Group) TakesSIPCalls() bool {
	cg := g.GetCallGroup()
	return cg.GetNumber() != "" && (cg.GetMode() == "" || cg.GetMode() == ModeSIP)
}

// IsPrimary reports whether l is its owner's primary line: kind
// KindPrimary, or no kind as stored before kinds existed.
func (l *Line) IsPrimary() bool {
	return l.GetKind() == "" || l.GetKind() == KindPrimary
}

// Expiring is a binding with an expiry time: a Registration, or a copy of
// one (actorspb.Binding).
type Expiring interface{ GetExpiresAtUnix() int64 }

// Live reports whether binding b counts at now: it expires after now, to
// the second. The directory keeps expired registrations until an
// ExpireRegistrations command removes them (those expiring at or before
// its now_unix), so every reader filters with Live.
func Live(b Expiring, now time.Time) bool { return b.GetExpiresAtUnix() > now.Unix() }

// LiveOnly returns the bindings of bs that are Live at now, in order, in
// a new slice.
func LiveOnly[B Expiring](bs []B, now time.Time) []B {
	out := make([]B, 0, len(bs))
	for _, b := range bs {
		if Live(b, now) {
			out = append(out, b)
		}
	}
	return out
}
