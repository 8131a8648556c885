package hunt

import (
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")

func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return seed
}

// checkPlan fails the test when p breaks a rule every plan must keep.
func checkPlan(t *testing.T, where string, g Group, p Plan) {
	t.Helper()
	if err := planProblem(g.WithDefaults(), p); err != nil {
		t.Fatalf("%s: %v\ngroup %+v\nplan %+v", where, err, g, p)
	}
}

// planProblem says which rule p breaks, or nil.
func planProblem(g Group, p Plan) error {
	if p.Closed {
		if len(p.Stages) > 0 || len(p.Skipped) > 0 {
			return fmt.Errorf("closed plan rings or skips")
		}
		return checkFallback(p.Fallback, g.ClosedTarget, g.NoAnswerTarget)
	}
	if err := checkFallback(p.Fallback, g.NoAnswerTarget); err != nil {
		return err
	}
	if err := checkAccounting(g, p); err != nil {
		return err
	}
	if err := checkTiming(g, p); err != nil {
		return err
	}
	return checkOrder(g, p)
}

func checkFallback(f Fallback, targets ...string) error {
	want := Fallback{Status: StatusTemporarilyUnavailable}
	for _, t := range targets {
		if t != "" {
			want = Fallback{Target: t}
			break
		}
	}
	if f != want {
		return fmt.Errorf("fallback %+v, want %+v", f, want)
	}
	return nil
}

// checkAccounting: every listing of a member is rung once or skipped once;
// nobody ineligible rings; reasons are right.
func checkAccounting(g Group, p Plan) error {
	listed := map[string]int{}
	for _, m := range g.Members {
		listed[m.User]++
	}
	seen := map[string]int{}
	for _, s := range p.Stages {
		for _, u := range s.Members {
			seen[u]++
			if seen[u] > 1 {
				return fmt.Errorf("%s rings twice", u)
			}
		}
	}
	for _, k := range p.Skipped {
		seen[k.User]++
	}
	for u, n := range listed {
		if seen[u] != n {
			return fmt.Errorf("%s listed %d times, rung or skipped %d times", u, n, seen[u])
		}
	}
	for _, m := range g.Members {
		want := skipReason(m, g.SkipBusy)
		if want == 0 {
			continue
		}
		if slices.ContainsFunc(p.Stages, func(s Stage) bool { return slices.Contains(s.Members, m.User) }) {
			return fmt.Errorf("%s rings though %s", m.User, want)
		}
		if !slices.Contains(p.Skipped, Skip{User: m.User, Reason: want}) {
			return fmt.Errorf("%s not skipped as %s: %v", m.User, want, p.Skipped)
		}
	}
	return nil
}

// checkTiming: each stage rings a positive time within the limits, no
// sooner than its members' ring delay, and the plan ends within
// RingTimeout. ring_all: one stage per ring delay, each to the end of
// RingTimeout. One at a time: one member per stage, each turn starting when
// the previous one ends, or when the first member left is due if none of
// them is yet (without delays: no gaps from 0). Members are left unreached
// only when RingTimeout ran out before their turn or their delay.
func checkTiming(g Group, p Plan) error {
	delays := map[string]time.Duration{}
	for _, m := range slices.Backward(g.Members) {
		delays[m.User] = m.RingDelay // the first listing counts
	}
	left := rung(p)
	var at time.Duration
	for i, s := range p.Stages {
		if s.Timeout <= 0 || len(s.Members) == 0 || s.End() > g.RingTimeout {
			return fmt.Errorf("stage %d %+v rings no time or beyond %s", i, s, g.RingTimeout)
		}
		for _, u := range s.Members {
			if delays[u] != s.NotBefore || s.Delay < s.NotBefore {
				return fmt.Errorf("stage %d %+v: %s has ring delay %s", i, s, u, delays[u])
			}
		}
		if g.Strategy == RingAll {
			if s.End() != g.RingTimeout || i > 0 && s.Delay <= p.Stages[i-1].Delay {
				return fmt.Errorf("ring_all stage %d %+v does not ring from its delay to %s", i, s, g.RingTimeout)
			}
			continue
		}
		due := slices.MinFunc(left, func(a, b string) int { return cmp.Compare(delays[a], delays[b]) })
		if want := max(at, delays[due]); s.Delay != want {
			return fmt.Errorf("stage %d %+v starts at %s, want %s", i, s, s.Delay, want)
		}
		if len(s.Members) != 1 || s.Timeout > g.MemberTimeout {
			return fmt.Errorf("stage %d %+v: one member for at most %s expected", i, s, g.MemberTimeout)
		}
		left = slices.DeleteFunc(left, func(u string) bool { return u == s.Members[0] })
		at = s.End()
	}
	if p.Duration() > g.RingTimeout {
		return fmt.Errorf("rings %s, longer than %s", p.Duration(), g.RingTimeout)
	}
	for _, k := range p.Skipped {
		if k.Reason == SkipNotReached && delays[k.User] < g.RingTimeout && (g.Strategy == RingAll || p.Duration() != g.RingTimeout) {
			return fmt.Errorf("%s not reached though %s of %s rang", k.User, p.Duration(), g.RingTimeout)
		}
	}
	return nil
}

// checkOrder: sequential rings in configured order, round_robin in a
// rotation of it, longest_idle from the longest idle.
func checkOrder(g Group, p Plan) error {
	if hasDelays(g) {
		return nil // delays reorder the turns: checkTiming checks them
	}
	var order []int
	for _, s := range p.Stages {
		for _, u := range s.Members {
			order = append(order, slices.IndexFunc(g.Members, func(m Member) bool { return m.User == u }))
		}
	}
	descents := 0
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			descents++
		}
	}
	switch {
	case (g.Strategy == Sequential || g.Strategy == RingAll) && descents > 0:
		return fmt.Errorf("%s rings out of configured order: %v", g.Strategy, order)
	case g.Strategy == RoundRobin && (descents > 1 || descents == 1 && len(order) > 0 && order[len(order)-1] >= order[0]):
		return fmt.Errorf("round_robin order %v is no rotation", order)
	}
	return nil
}

func hasDelays(g Group) bool {
	return slices.ContainsFunc(g.Members, func(m Member) bool { return m.RingDelay > 0 })
}

func randomGroup(rng *rand.Rand) Group {
	g := Group{
		ID:             "g",
		Strategy:       Strategy(rng.IntN(len(strategyNames))),
		RingTimeout:    time.Duration(rng.IntN(8)) * 5 * time.Second,
		MemberTimeout:  time.Duration(rng.IntN(5)) * 5 * time.Second,
		SkipBusy:       rng.IntN(2) == 0,
		NoAnswerTarget: []string{"", "vm"}[rng.IntN(2)],
		ClosedTarget:   []string{"", "night"}[rng.IntN(2)],
	}
	for i := range rng.IntN(12) {
		g.Members = append(g.Members, Member{
			User:      fmt.Sprintf("u%d", i),
			LoggedIn:  rng.IntN(6) > 0,
			Busy:      rng.IntN(4) == 0,
			DND:       rng.IntN(6) == 0,
			Reachable: rng.IntN(6) > 0,
		})
	}
	if rng.IntN(3) == 0 {
		for i := range g.Members {
			g.Members[i].RingDelay = time.Duration(rng.IntN(4)*rng.IntN(4)) * 5 * time.Second
		}
	}
	if len(g.Members) > 1 && rng.IntN(8) == 0 {
		g.Members = append(g.Members, g.Members[rng.IntN(len(g.Members))]) // a listing twice
	}
	return g
}

func randomState(rng *rand.Rand, g Group, now time.Time) State {
	var st State
	if len(g.Members) > 0 && rng.IntN(2) == 0 {
		st.RoundRobinLast = g.Members[rng.IntN(len(g.Members))].User
	}
	for _, m := range g.Members {
		if rng.IntN(3) > 0 {
			st = Step(st, Event{Kind: Ended, User: m.User}, now.Add(-time.Duration(rng.IntN(10))*time.Minute))
		}
	}
	return st
}

// Random groups, states and verdicts give plans that keep every rule:
// nobody skipped rings, everybody is rung or skipped exactly once, the plan
// ends within the ring timeout, the order fits the strategy.
func TestRingPlan_KeepsItsRulesOnRandomGroups(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for round := range 3000 {
		g := randomGroup(rng)
		st := randomState(rng, g, now)
		hours := officehours.Result{Open: rng.IntN(5) > 0}
		p := RingPlan(g, st, hours, now)
		checkPlan(t, fmt.Sprintf("seed %d round %d", seed, round), g, p)
		if g.Strategy == LongestIdle && !hasDelays(g) {
			checkLongestIdle(t, fmt.Sprintf("seed %d round %d", seed, round), g, st, p)
		}
	}
}

// checkLongestIdle: each member rung has been idle at least as long as the
// next (never called counting as longest), ties in configured order.
func checkLongestIdle(t *testing.T, where string, g Group, st State, p Plan) {
	t.Helper()
	for i := 1; i < len(p.Stages); i++ {
		a, b := p.Stages[i-1].Members[0], p.Stages[i].Members[0]
		ta, okA := st.LastCall[a]
		tb, okB := st.LastCall[b]
		if okA && (!okB || ta.After(tb)) {
			t.Fatalf("%s: %s (last %v) rings before %s (last %v)", where, a, ta, b, tb)
		}
	}
}

// Round robin over many calls, each answered by the first member offered,
// gives every eligible member the same number of calls, give or take one,
// whatever the members' state changes between calls.
func TestRoundRobin_SharesCallsFairly(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x94d049bb133111eb))
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for round := range 200 {
		n := 1 + rng.IntN(9)
		g := Group{ID: "rr", Strategy: RoundRobin}
		for i := range n {
			g.Members = append(g.Members, Member{User: fmt.Sprintf("u%d", i), LoggedIn: true, Reachable: true})
		}
		var st State
		if rng.IntN(2) == 0 {
			st.RoundRobinLast = g.Members[rng.IntN(n)].User
		}
		calls := n * (1 + rng.IntN(5))
		answered := map[string]int{}
		for range calls {
			p := RingPlan(g, st, officehours.Result{Open: true}, now)
			first := p.Stages[0].Members[0]
			st = Step(st, Event{Kind: Offered, User: first}, now)
			st = Step(st, Event{Kind: Answered, User: first}, now)
			answered[first]++
		}
		for _, m := range g.Members {
			if answered[m.User] != calls/n {
				t.Fatalf("seed %d round %d: %d calls over %d members: %v", seed, round, calls, n, answered)
			}
		}
	}
}

// With members logging in and out at random, a member who stays eligible is
// offered a call first within as many calls as the group has members.
func TestRoundRobin_NobodyWaitsMoreThanALap(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0xbf58476d1ce4e5b9))
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for round := range 100 {
		n := 2 + rng.IntN(7)
		g := Group{ID: "rr", Strategy: RoundRobin}
		for i := range n {
			g.Members = append(g.Members, Member{User: fmt.Sprintf("u%d", i), Reachable: true})
		}
		var st State
		waiting := map[string]int{} // calls in a row the member was eligible and not first
		for call := range 60 {
			for i := range g.Members {
				g.Members[i].LoggedIn = rng.IntN(4) > 0
			}
			p := RingPlan(g, st, officehours.Result{Open: true}, now)
			if len(p.Stages) == 0 {
				clear(waiting) // nobody eligible
				continue
			}
			for _, m := range g.Members {
				switch {
				case !m.LoggedIn || p.Stages[0].Members[0] == m.User:
					waiting[m.User] = 0
				default:
					waiting[m.User]++
				}
				if waiting[m.User] >= n {
					t.Fatalf("seed %d round %d call %d: %s eligible and not first %d calls in a row", seed, round, call, m.User, waiting[m.User])
				}
			}
			st = Step(st, Event{Kind: Offered, User: p.Stages[0].Members[0]}, now)
		}
	}
}
