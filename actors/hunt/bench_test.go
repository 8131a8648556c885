package hunt

import (
	"fmt"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
)

func benchGroup(n int, s Strategy) (Group, State) {
	g := Group{ID: "bench", Strategy: s, SkipBusy: true, NoAnswerTarget: "vm"}
	st := State{LastCall: map[string]time.Time{}}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range n {
		m := Member{User: fmt.Sprintf("user%03d", i), LoggedIn: i%7 != 0, Busy: i%5 == 0, Reachable: true}
		g.Members = append(g.Members, m)
		st.LastCall[m.User] = now.Add(-time.Duration((i*37)%n) * time.Minute)
	}
	st.RoundRobinLast = g.Members[n/2].User
	return g, st
}

func BenchmarkRingPlan(b *testing.B) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	open := officehours.Result{Open: true}
	for _, n := range []int{10, 100} {
		for _, s := range []Strategy{RingAll, Sequential, RoundRobin, LongestIdle} {
			g, st := benchGroup(n, s)
			b.Run(fmt.Sprintf("members=%d/%s", n, s), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					RingPlan(g, st, open, now)
				}
			})
		}
	}
}
