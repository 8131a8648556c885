package hunt

import (
	"cmp"
	"slices"
	"time"
)

// orderFor returns the eligible members in the order the strategy rings
// them. eligible is in configured order and is not changed.
func orderFor(g Group, st State, eligible []eligibleMember, now time.Time) []eligibleMember {
	switch g.Strategy {
	case RoundRobin:
		return rotate(eligible, roundRobinStart(g, st))
	case LongestIdle:
		return longestIdleFirst(eligible, st.LastCall, now)
	default:
		return eligible
	}
}

// roundRobinStart is the configured position the next round-robin call
// starts at: just after the member last offered a call, or 0 when there is
// none or they left the group.
func roundRobinStart(g Group, st State) int {
	if st.RoundRobinLast == "" {
		return 0
	}
	for i, m := range g.Members {
		if m.User == st.RoundRobinLast {
			return i + 1
		}
	}
	return 0
}

// rotate returns the members starting with the first at or after
// configured position start, wrapping around.
func rotate(members []eligibleMember, start int) []eligibleMember {
	k := slices.IndexFunc(members, func(m eligibleMember) bool { return m.index >= start })
	if k <= 0 {
		return members
	}
	return slices.Concat(members[k:], members[:k])
}

// longestIdleFirst orders members by how long ago their last group call was,
// longest first; members never called come first, ties keep configured
// order. A last call after now (a clock ahead on another node) counts as
// now.
func longestIdleFirst(members []eligibleMember, last map[string]time.Time, now time.Time) []eligibleMember {
	type keyed struct {
		m    eligibleMember
		idle time.Duration
	}
	ks := make([]keyed, len(members))
	for i, m := range members {
		ks[i] = keyed{m: m, idle: maxDuration}
		if at, ok := last[m.user]; ok {
			ks[i].idle = max(now.Sub(at), 0)
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return cmp.Compare(b.idle, a.idle) })
	out := make([]eligibleMember, len(ks))
	for i, k := range ks {
		out[i] = k.m
	}
	return out
}

const maxDuration = time.Duration(1<<63 - 1)
