package hunt

import (
	"fmt"
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
// times out, its branches are cancelled and the next stage starts.
type Stage struct {
	Members []string
	Delay   time.Duration
	Timeout time.Duration
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

// eligibleMember is a member that may ring, with its configured position.
type eligibleMember struct {
	user  string
	index int
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
		eligible = append(eligible, eligibleMember{user: m.User, index: i})
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

// stages turns the ordered eligible members into stages: one stage of all
// of them for ring_all, else one member per stage, each for MemberTimeout,
// until RingTimeout runs out. Members not reached are added to skipped.
func stages(g Group, order []eligibleMember, skipped []Skip) ([]Stage, []Skip) {
	if len(order) == 0 {
		return nil, skipped
	}
	if g.Strategy == RingAll {
		users := make([]string, len(order))
		for i, m := range order {
			users[i] = m.user
		}
		return []Stage{{Members: users, Timeout: g.RingTimeout}}, skipped
	}
	var out []Stage
	var delay time.Duration
	for _, m := range order {
		if delay >= g.RingTimeout {
			skipped = append(skipped, Skip{User: m.user, Reason: SkipNotReached})
			continue
		}
		timeout := min(g.MemberTimeout, g.RingTimeout-delay)
		out = append(out, Stage{Members: []string{m.user}, Delay: delay, Timeout: timeout})
		delay += timeout
	}
	return out, skipped
}
