package dirrights

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// fakeClock is a clock a test moves by hand; safe for concurrent use.
type fakeClock struct{ unix atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.Unix(c.unix.Load(), 0) }

func openDirWith(t *testing.T, cfg persistence.Config) *persistence.Node {
	t.Helper()
	return testdir.Open(t, cfg)
}

// A grant, a preset, a membership and a deputyship with an until stop
// counting at that instant, with no sweep: the store leaves them out, the
// loaded Target says when it must be reloaded, and explain shows each
// contributing layer's end.
func TestLoadTarget_EndedLayersStopCountingAtUntil(t *testing.T) {
	clock := &fakeClock{}
	clock.unix.Store(1000)
	n := openDirWith(t, persistence.Config{Now: clock.now})
	for _, u := range []string{"anna", "ben", "dora", "vic", "pia"} {
		apply(t, n, putUser(u))
	}
	ms := members("anna", "ben")
	ms[1].UntilUnix = 2000 // ben, a member for a while
	apply(t, n, putGroup(&dirpb.Group{Id: "support", Active: true, Members: ms, Deputy: "dora", DeputyUntilUnix: 1500,
		MemberGrant: &dirpb.Grant{Level: "team"}, LeaderGrant: &dirpb.Grant{Level: "business"}}))
	apply(t, n, putGrant(false, "anna", "vic", &dirpb.Grant{Level: "personal", UntilUnix: 1200}))
	apply(t, n, putGrant(true, "anna", "pia", &dirpb.Grant{Level: "team", UntilUnix: 3000}))

	load := func() *Target {
		t.Helper()
		tg, err := LoadTarget(n.Store(), "anna")
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	tg := load()
	if tg.Until != 1200 || tg.Expired(clock.now()) || !tg.Expired(time.Unix(1200, 0)) {
		t.Errorf("Until = %d, want 1200 (the earliest end), expired only from then", tg.Until)
	}
	e := rights.Explain(tg.Pair("vic"))
	if e.Level() != rights.Personal || e.Until["user"] != 1200 {
		t.Errorf("vic before 1200: %s, until %v", e.Level(), e.Until)
	}
	if e := rights.Explain(tg.Pair("ben")); e.Until["group:support"] != 2000 {
		t.Errorf("ben's group layer ends %v, want 2000", e.Until)
	}
	if e := rights.Explain(tg.Pair("dora")); e.Level() != rights.Business || e.Until["leader:support"] != 1500 {
		t.Errorf("dora's leader layer: %s ends %v, want business until 1500", e.Level(), e.Until)
	}

	for _, step := range []struct {
		at     int64
		viewer string
		want   rights.Level
		until  int64
	}{
		{1200, "vic", rights.Public, 1500},  // the user grant ended at its second
		{1500, "dora", rights.Public, 2000}, // the deputy is no longer one
		{2000, "ben", rights.Public, 3000},  // no longer a member
		{3000, "pia", rights.Public, 0},     // the preset ended
	} {
		clock.unix.Store(step.at - 1)
		if got := rights.Effective(load().Pair(step.viewer)).Level(); got == rights.Public {
			t.Errorf("%s at %d (before the end): already public", step.viewer, step.at-1)
		}
		clock.unix.Store(step.at)
		tg := load()
		if got := rights.Effective(tg.Pair(step.viewer)).Level(); got != step.want {
			t.Errorf("%s at %d: %s, want %s", step.viewer, step.at, got, step.want)
		}
		if tg.Until != step.until {
			t.Errorf("at %d: Until = %d, want %d", step.at, tg.Until, step.until)
		}
	}
}
