//go:build !race

package actors

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putGrantUntil(target, viewer, level string, until int64) *dirpb.Command {
	c := putGrant(target, viewer, level)
	c.GetPutGrant().Grant.UntilUnix = until
	return c
}

// A user grain's cached rights end at the grant's until on the injected
// clock, with no directory change and no sweep (the test node runs none).
func TestUserGrain_CachedRightsEndAtUntilWithoutSweep(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	n := startTestNodeWith(t, "solo", persistence.Config{Now: func() time.Time { return time.Unix(clock.Load(), 0) }})
	until := clock.Load() + 3600
	idx := n.apply(t, putUser("anna", false), putUser("ben", false), putGlobal("blocked"), putGrantUntil("anna", "ben", "team", until))
	check := func() rights.Set {
		t.Helper()
		resp, err := n.cn.Request(reqCtx(t), "anna", KindUser, &actorspb.CheckRights{Viewer: "ben", MinIndex: idx})
		if err != nil {
			t.Fatal(err)
		}
		return rights.Set(resp.(*actorspb.CheckRightsReply).GetSet())
	}
	if got := check(); got != rights.LevelSet(rights.Team) {
		t.Fatalf("ben over anna before the until: %s, want team", got)
	}
	clock.Store(until - 1)
	if got := check(); got != rights.LevelSet(rights.Team) {
		t.Errorf("ben over anna a second before the until: %s, want team", got)
	}
	clock.Store(until)
	if got := check(); got != rights.LevelSet(rights.Blocked) {
		t.Errorf("ben over anna at the until: %s, want blocked (the cached rights must end then)", got)
	}
}

// A watcher whose right ends at an until is told "not visible" at that
// instant by the user grain itself: no directory change, no sweep.
func TestUserGrain_WatcherToldWhenGrantEnds(t *testing.T) {
	n := startTestNode(t, "solo")
	until := time.Now().Add(2 * time.Second).Unix()
	n.apply(t, putUser("anna", false), putUser("ben", false), putGlobal("blocked"), putGrantUntil("anna", "ben", "team", until))
	s := n.hub.Open("ben", 16)
	v, err := n.hub.Watch(reqCtx(t), s, "anna")
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetVisible() {
		t.Fatalf("ben does not see anna before the until: %v", v)
	}
	ev := nextEvent(t, s, 5*time.Second)
	if ev.Target != "anna" || ev.View.GetVisible() {
		t.Errorf("at the until ben got %v, want anna not visible", ev)
	}
	if late := time.Since(time.Unix(until, 0)); late < 0 || late > time.Second {
		t.Errorf("told %v after the until, want at it (within a second)", late)
	}
	assertQuiet(t, s)
}
