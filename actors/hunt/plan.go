package hunt

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
)

// Plan is how to ring one call to a group: the stages in order, and what to
// do with the call when the group is closed, when nobody is eligible, or when
// no stage is answered.
type Plan struct {
	Group string
	// Start is the instant the plan was made for (the arrival of the
	// call); stage delays count from it.
	Start time.Time
	// Closed: outside office hours. There are no stages; the call goes to
	// Fallback at once.
	Closed bool
	// Stages ring one after the other. Empty when closed or when no member
	// is eligible: the call then goes to Fallback at once.
	Stages []Stage
	// Fallback is where the call goes when the plan ends unanswered.
	Fallback Fallback
	// Skipped lists the members not rung and why: those not eligible in
	// configured order, then those the ring timeout did not reach in the
	// order they would have rung. Empty when closed.
	Skipped []Skip
}

// Stage rings a set of members at once: from Delay after the plan's Start,
// for Timeout. The first member to answer takes the call; when the stage
// times out, its branches are cancelled. Stages are in the order of their
// Delay and may overlap in time (ring_all with ring delays): a stage starts
// at its Delay whether or not earlier stages still ring.
//
// NotBefore is the members' ring delay: the earliest a stage may start.
// Whoever carries the plan out may start a stage before its Delay when
// nothing rings any more (every member rung so far refused) — stages then
// start in order, each at the later of that moment and its NotBefore, and
// ring for their Timeout from their actual start — but never before its
// NotBefore.
type Stage struct {
	Members   []string
	Delay     time.Duration
	NotBefore time.Duration
	Timeout   time.Duration
}

// End is when the stage stops ringing, counted from the plan's Start.
func (s Stage) End() time.Duration { return s.Delay + s.Timeout }

// Fallback is where a call goes that no member takes: forwarded to Target,
// or when Target is "", rejected with the SIP Status.
type Fallback struct {
	Target string
	Status int
}

func (f Fallback) String() string {
	if f.Target != "" {
		return "forward to " + f.Target
	}
	return fmt.Sprintf("reject %d", f.Status)
}

// Skip is a member left out of the plan.
type Skip struct {
	User   string
	Reason SkipReason
}

// SkipReason says why a member is not rung. When several apply, the first
// in this order is given.
type SkipReason uint8

const (
	// SkipLoggedOut: the member is logged out of group calls.
	SkipLoggedOut SkipReason = iota + 1
	// SkipDND: the member set do not disturb.
	SkipDND
	// SkipUnreachable: the member's primary line has no registered contact.
	SkipUnreachable
	// SkipBusy: the member is on a call and the group skips busy members.
	SkipBusy
	// SkipDuplicate: the member is listed more than once; only the first
	// listing rings.
	SkipDuplicate
	// SkipNotReached: eligible, but the ring timeout ran out before the
	// member's turn.
	SkipNotReached
)

var skipNames = [...]string{
	SkipLoggedOut: "logged_out", SkipDND: "dnd", SkipUnreachable: "unreachable",
	SkipBusy: "busy", SkipDuplicate: "duplicate", SkipNotReached: "not_reached",
}

func (r SkipReason) String() string {
	if r > 0 && int(r) < len(skipNames) {
		return skipNames[r]
	}
	return fmt.Sprintf("SkipReason(%d)", uint8(r))
}

// Duration is how long the plan rings in all, from Start to the end of the
// last stage.
func (p Plan) Duration() time.Duration {
	if len(p.Stages) == 0 {
		return 0
	}
	return p.Stages[len(p.Stages)-1].End()
}

// RingPlan decides how to ring a call arriving at now for group g, given the
// group's strategy state and the office-hours verdict at now. Zero timeouts
// take their defaults. The grain carries the plan out and reports Offered,
// Answered and Ended events through Step.
func RingPlan(g Group, st State, hours officehours.Result, now time.Time) Plan {
	g = g.WithDefaults()
	p := Plan{Group: g.ID, Start: now}
	if !hours.Open {
		p.Closed = true
		p.Fallback = fallback(g.ClosedTarget, g.NoAnswerTarget)
		return p
	}
	p.Fallback = fallback(g.NoAnswerTarget)
	eligible, skipped := sortOut(g)
	p.Skipped = skipped
	order := orderFor(g, st, eligible, now)
	p.Stages, p.Skipped = stages(g, order, p.Skipped)
	return p
}

// fallback forwards to the first non-empty target, else rejects with 480.
func fallback(targets ...string) Fallback {
	for _, t := range targets {
		if t != "" {
			return Fallback{Target: t}
		}
	}
	return Fallback{Status: StatusTemporarilyUnavailable}
}

// eligibleMember is a member that may ring, with its configured position
// and ring delay.
type eligibleMember struct {
	user  string
	index int
	delay time.Duration
}

// sortOut splits the members, in configured order, into those that may ring
// and those skipped with the reason.
func sortOut(g Group) ([]eligibleMember, []Skip) {
	var eligible []eligibleMember
	var skipped []Skip
	seen := make(map[string]bool, len(g.Members))
	for i, m := range g.Members {
		reason := skipReason(m, g.SkipBusy)
		if reason == 0 && seen[m.User] {
			reason = SkipDuplicate
		}
		if reason != 0 {
			skipped = append(skipped, Skip{User: m.User, Reason: reason})
			continue
		}
		seen[m.User] = true
		eligible = append(eligible, eligibleMember{user: m.User, index: i, delay: max(m.RingDelay, 0)})
	}
	return eligible, skipped
}

// skipReason is why m may not ring, or 0 when it may.
func skipReason(m Member, skipBusy bool) SkipReason {
	switch {
	case !m.LoggedIn:
		return SkipLoggedOut
	case m.DND:
		return SkipDND
	case !m.Reachable:
		return SkipUnreachable
	case m.Busy && skipBusy:
		return SkipBusy
	}
	return 0
}

// stages turns the ordered eligible members into stages, until RingTimeout
// runs out; members not reached are added to skipped.
func stages(g Group, order []eligibleMember, skipped []Skip) ([]Stage, []Skip) {
	if len(order) == 0 {
		return nil, skipped
	}
	if g.Strategy == RingAll {
		return ringAllStages(g, order, skipped)
	}
	return turnStages(g, order, skipped)
}

// ringAllStages rings the members together: one stage per distinct ring
// delay, from the delay to the end of RingTimeout, members in configured
// order. Without delays that is one stage of everybody for RingTimeout.
func ringAllStages(g Group, order []eligibleMember, skipped []Skip) ([]Stage, []Skip) {
	byDelay := order
	if slices.ContainsFunc(order, func(m eligibleMember) bool { return m.delay > 0 }) {
		byDelay = slices.Clone(order)
		slices.SortStableFunc(byDelay, func(a, b eligibleMember) int { return cmp.Compare(a.delay, b.delay) })
	}
	var out []Stage
	for _, m := range byDelay {
		switch {
		case m.delay >= g.RingTimeout:
			skipped = append(skipped, Skip{User: m.user, Reason: SkipNotReached})
		case len(out) > 0 && out[len(out)-1].Delay == m.delay:
			out[len(out)-1].Members = append(out[len(out)-1].Members, m.user)
		default:
			out = append(out, Stage{Members: []string{m.user}, Delay: m.delay, NotBefore: m.delay, Timeout: g.RingTimeout - m.delay})
		}
	}
	return out, skipped
}

// turnStages gives the members one turn each, one at a time, for
// MemberTimeout (the last one reached rings for what is left of
// RingTimeout). A member's ring delay holds their turn back: each turn
// goes to the first member in the strategy's order whose delay has
// passed, so members without a delay ring before a delayed member listed
// ahead of them; when only members whose delay has not passed are left,
// nobody rings until the first of them is due.
func turnStages(g Group, order []eligibleMember, skipped []Skip) ([]Stage, []Skip) {
	var out []Stage
	left := slices.Clone(order)
	var at time.Duration
	for len(left) > 0 {
		if at >= g.RingTimeout {
			for _, m := range left {
				skipped = append(skipped, Skip{User: m.user, Reason: SkipNotReached})
			}
			break
		}
		k := slices.IndexFunc(left, func(m eligibleMember) bool { return m.delay <= at })
		if k < 0 {
			at = slices.MinFunc(left, func(a, b eligibleMember) int { return cmp.Compare(a.delay, b.delay) }).delay
			continue
		}
		m := left[k]
		if k == 0 {
			left = left[1:] // the usual case: no delay holds the next member back
		} else {
			left = slices.Delete(left, k, k+1)
		}
		timeout := min(g.MemberTimeout, g.RingTimeout-at)
		out = append(out, Stage{Members: []string{m.user}, Delay: at, NotBefore: m.delay, Timeout: timeout})
		at += timeout
	}
	return out, skipped
}
