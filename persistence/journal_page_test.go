package persistence

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// JournalPage against a naive reference: random journals (many entries
// in the same second), random bounds, filters, orders and page sizes;
// walking the pages by cursor yields exactly the reference's list.
func TestJournalPage_MatchesNaiveReference(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"))
	var all []*dirpb.JournalEntry
	for i := range 60 {
		e := &dirpb.JournalEntry{Id: fmt.Sprintf("e%03d", rng.IntN(1000)*100+i), Owner: "alice",
			StartUnix: int64(rng.IntN(20)) - 5, Private: rng.IntN(3) == 0, Direction: []string{"in", "out"}[rng.IntN(2)]}
		h.mustApply(appendJournal(e))
		all = append(all, e)
	}
	h.mustApply(appendJournal(&dirpb.JournalEntry{Owner: "bob", StartUnix: 3, Direction: "in"}))
	slices.SortFunc(all, func(a, b *dirpb.JournalEntry) int {
		if a.StartUnix != b.StartUnix {
			return int(a.StartUnix - b.StartUnix)
		}
		return map[bool]int{true: -1, false: 1}[a.Id < b.Id]
	})
	for round := range 200 {
		from := int64(rng.IntN(30)) - 10
		to := int64(0)
		if rng.IntN(2) == 0 {
			to = from + int64(rng.IntN(15))
		}
		oldest, limit, public := rng.IntN(2) == 0, 1+rng.IntN(7), rng.IntN(2) == 0
		keep := func(e *dirpb.JournalEntry) bool { return !public || !e.Private }
		var want []string
		for _, e := range all {
			if e.StartUnix >= from && (to == 0 || e.StartUnix < to) && keep(e) {
				want = append(want, e.Id)
			}
		}
		if !oldest {
			slices.Reverse(want)
		}
		var got []string
		var cur *JournalCursor
		for pages := 0; ; pages++ {
			page, next, err := h.s.JournalPage(JournalPageQuery{Owner: "alice", FromUnix: from, ToUnix: to,
				After: cur, Oldest: oldest, Limit: limit, Keep: keep})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit || (next != nil && len(page) != limit) || pages > 100 {
				t.Fatalf("round %d: page of %d (limit %d), next %v", round, len(page), limit, next)
			}
			for _, e := range page {
				got = append(got, e.Id)
			}
			if next == nil {
				break
			}
			cur = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d (from %d to %d oldest %v limit %d public %v):\n got %v\nwant %v", round, from, to, oldest, limit, public, got, want)
		}
	}
}
