package persistence

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Structural checks of records, before anything is read or written. They
// reject values no reader could make sense of; they do not interpret
// rights (levels and rights maps are opaque here) and do not look at the
// store (existence and uniqueness are checked by the apply functions).

var (
	systemRoles = dirpb.SystemRoles[:]
	memberRoles = dirpb.MemberRoles[:]
	lineKinds   = dirpb.LineKinds[:]
	callModes   = dirpb.CallModes[:]
	strategies  = append([]string{""}, dirpb.Strategies[:]...)    // "": ring_all
	overrides   = append([]string{""}, dirpb.OverrideModes[:]...) // "": auto
	directions  = []string{"", "in", "out"}
)

func checkOneOf(field, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return invalidf("%s=%q is not one of %q", field, v, allowed)
	}
	return nil
}

func checkUser(u *dirpb.User) error {
	if u == nil {
		return invalidf("user is missing")
	}
	if err := checkID("user id", u.Id); err != nil {
		return err
	}
	if err := checkCallClass("call_class", u.CallClass); err != nil {
		return err
	}
	if err := CheckSite("home_site", u.HomeSite); err != nil {
		return err
	}
	return checkOneOf("system_role", u.SystemRole, systemRoles)
}

// checkGrant allows a level, a rights set or neither (an empty grant), but
// not both at once.
func checkGrant(field string, g *dirpb.Grant) error {
	if g != nil && g.Level != "" && len(g.Rights) > 0 {
		return invalidf("%s has both a level and rights", field)
	}
	return nil
}

// checkGroup validates g and fills defaults (member role "user", call
// group mode "disabled").
func checkGroup(g *dirpb.Group) error {
	if g == nil {
		return invalidf("group is missing")
	}
	if err := checkID("group id", g.Id); err != nil {
		return err
	}
	if err := CheckSite("home_site", g.HomeSite); err != nil {
		return err
	}
	if err := checkMembers(g); err != nil {
		return err
	}
	if err := checkGroupRefs(g); err != nil {
		return err
	}
	if err := checkCallGroup(g); err != nil {
		return err
	}
	return checkOfficeHours(g.OfficeHours)
}

func checkMembers(g *dirpb.Group) error {
	seen := make(map[string]bool, len(g.Members))
	for _, m := range g.Members {
		if err := checkID("member", m.GetUser()); err != nil {
			return err
		}
		if seen[m.User] {
			return invalidf("member %q is listed twice in group %q", m.User, g.Id)
		}
		seen[m.User] = true
		if m.Role == "" {
			m.Role = "user"
		}
		if err := checkOneOf("role of member "+m.User, m.Role, memberRoles); err != nil {
			return err
		}
		if m.RingDelayS < 0 {
			return invalidf("ring_delay_s=%d of member %q is negative", m.RingDelayS, m.User)
		}
		if err := checkUntil("until_unix of member "+m.User, m.UntilUnix); err != nil {
			return err
		}
	}
	return nil
}

func checkGroupRefs(g *dirpb.Group) error {
	for _, f := range []struct{ name, v string }{{"leader", g.Leader}, {"deputy", g.Deputy}} {
		if f.v == "" {
			continue
		}
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	if g.Leader != "" && g.Leader == g.Deputy {
		return invalidf("leader and deputy of group %q are both %q", g.Id, g.Leader)
	}
	if err := checkGrant("member_grant", g.MemberGrant); err != nil {
		return err
	}
	if err := checkGrant("leader_grant", g.LeaderGrant); err != nil {
		return err
	}
	if err := checkUntil("deputy_until_unix", g.DeputyUntilUnix); err != nil {
		return err
	}
	if g.DeputyUntilUnix != 0 && g.Deputy == "" {
		return invalidf("deputy_until_unix is set on group %q, which has no deputy", g.Id)
	}
	if g.OverrideUntilUnix < 0 {
		return invalidf("override_until_unix=%d is negative", g.OverrideUntilUnix)
	}
	return checkOneOf("override", g.Override, overrides)
}

func checkCallGroup(g *dirpb.Group) error {
	cg := g.CallGroup
	if cg == nil {
		return nil
	}
	if cg.Mode == "" {
		cg.Mode = dirpb.ModeDisabled
	}
	if err := checkOneOf("call_group.mode", cg.Mode, callModes); err != nil {
		return err
	}
	if err := checkOneOf("call_group.strategy", cg.Strategy, strategies); err != nil {
		return err
	}
	if cg.RingTimeoutS < 0 {
		return invalidf("call_group.ring_timeout_s=%d is negative", cg.RingTimeoutS)
	}
	if cg.MemberTimeoutS < 0 {
		return invalidf("call_group.member_timeout_s=%d is negative", cg.MemberTimeoutS)
	}
	if cg.Number != "" {
		return checkID("call_group.number", cg.Number)
	}
	if cg.Mode != dirpb.ModeDisabled {
		return invalidf("call_group.number is empty but mode is %q", cg.Mode)
	}
	return nil
}

const minutesPerDay = 24 * 60

func checkOfficeHours(oh *dirpb.OfficeHours) error {
	if oh == nil {
		return nil
	}
	for _, d := range oh.Days {
		if d.Weekday < 0 || d.Weekday > 6 {
			return invalidf("office_hours weekday=%d is not 0..6", d.Weekday)
		}
		if err := checkIntervals("office_hours.open", d.Open); err != nil {
			return err
		}
		if err := checkIntervals("office_hours.breaks", d.Breaks); err != nil {
			return err
		}
	}
	for _, h := range oh.Holidays {
		if _, err := time.Parse(time.DateOnly, h.Date); err != nil {
			return invalidf("holiday date %q is not YYYY-MM-DD", h.Date)
		}
		if err := checkIntervals("holiday "+h.Date, h.Open); err != nil {
			return err
		}
	}
	return nil
}

func checkIntervals(field string, ivs []*dirpb.Interval) error {
	for _, iv := range ivs {
		if iv.FromMin < 0 || iv.ToMin > minutesPerDay || iv.FromMin >= iv.ToMin {
			return invalidf("%s interval %d-%d is not within 0..1440 with from < to", field, iv.FromMin, iv.ToMin)
		}
	}
	return nil
}

// checkLine validates l; an empty kind is resolved later (see txn.putLine).
func checkLine(l *dirpb.Line) error {
	if l == nil {
		return invalidf("line is missing")
	}
	if err := checkID("line number", l.Number); err != nil {
		return err
	}
	if err := checkID("line owner", l.Owner); err != nil {
		return err
	}
	if err := checkOneOf("line kind", l.Kind, append([]string{""}, lineKinds...)); err != nil {
		return err
	}
	if err := checkE164("line e164", l.E164); err != nil {
		return err
	}
	return checkForwarding(l.Forwarding)
}

func checkTrunk(t *dirpb.Trunk) error {
	if t == nil {
		return invalidf("trunk is missing")
	}
	if err := checkID("trunk id", t.Id); err != nil {
		return err
	}
	for _, a := range t.Addresses {
		if _, err := netip.ParsePrefix(a); err != nil {
			return invalidf("trunk %q address %q is not a CIDR prefix", t.Id, a)
		}
	}
	return checkOutbound(t.Outbound)
}

// The widest trunk prefixes accepted unless wide trunks are allowed: a
// trunk's addresses call without authentication, so a wide one opens the
// node to much of the internet (an IPv4 /16 is 65 536 hosts; an IPv6 /48
// is one site).
const (
	MinTrunkBitsIPv4 = 16
	MinTrunkBitsIPv6 = 48
)

// ErrWideTrunk is wrapped by CheckTrunkPrefix for a prefix wider than
// MinTrunkBitsIPv4 or MinTrunkBitsIPv6.
var ErrWideTrunk = errors.New("persistence: trunk prefix too wide")

// CheckTrunkPrefix rejects trunk prefix p when it is /0 or wider than
// MinTrunkBitsIPv4 (IPv4, also written IPv4-mapped in IPv6) or
// MinTrunkBitsIPv6, unless allowWide. It is the node's policy for new
// trunks (the API applies it); the directory's own check does not, so that
// nodes configured differently still agree on the log.
func CheckTrunkPrefix(p netip.Prefix, allowWide bool) error {
	if allowWide || !p.IsValid() {
		return nil
	}
	bits, min := p.Bits(), MinTrunkBitsIPv6
	switch {
	case p.Addr().Is4():
		min = MinTrunkBitsIPv4
	case p.Addr().Is4In6() && bits >= 96:
		bits, min = bits-96, MinTrunkBitsIPv4
	case p.Addr().Is4In6():
		bits = 0 // wider than all of IPv4
	}
	if bits == 0 || bits < min {
		return fmt.Errorf("%w: %s is wider than /%d", ErrWideTrunk, p, min)
	}
	return nil
}

func checkGlobal(g *dirpb.Global) error {
	if g == nil {
		return invalidf("global settings are missing")
	}
	if g.JournalRetentionDays < 0 || g.ChatRetentionDays < 0 {
		return invalidf("retention days are negative")
	}
	if err := checkCallClass("default_call_class", g.DefaultCallClass); err != nil {
		return err
	}
	return checkGrant("global grant", g.Grant)
}

func checkRegistration(r *dirpb.Registration) error {
	if r == nil {
		return invalidf("registration is missing")
	}
	if err := checkID("registration line", r.Line); err != nil {
		return err
	}
	return checkID("registration contact", r.Contact)
}

func checkJournalEntry(e *dirpb.JournalEntry) error {
	if e == nil {
		return invalidf("journal entry is missing")
	}
	if err := checkID("journal id", e.Id); err != nil {
		return err
	}
	if err := checkID("journal owner", e.Owner); err != nil {
		return err
	}
	if e.RingS < 0 || e.TalkS < 0 {
		return invalidf("journal entry %q has negative durations", e.Id)
	}
	return checkOneOf("journal direction", e.Direction, directions)
}
