package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func grantUntil(target, viewer, level string, until int64) *dirpb.Command {
	c := putGrant(target, viewer, level)
	c.GetPutGrant().Grant.UntilUnix = until
	return c
}

func presetUntil(target, viewer, level string, until int64) *dirpb.Command {
	c := putPreset(target, viewer, level)
	c.GetPutPreset().Grant.UntilUnix = until
	return c
}

func expireGrants(now int64) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_ExpireGrants{ExpireGrants: &dirpb.ExpireGrants{NowUnix: now}}}
}

// expiringDirectory is ann's directory with ends at 100 and 200 and
// endless entries: grants ann→bob (100), ann→cy (200), ann→dee (none), a
// preset ann→bob (100); group sales with bob until 100, cy until 200,
// ann for ever, leader cy and deputy dee until 100.
func expiringDirectory() []*dirpb.Command {
	sales := group("sales", "", "ann", "bob", "cy")
	sales.Members[1].UntilUnix, sales.Members[2].UntilUnix = 100, 200
	sales.Leader, sales.Deputy, sales.DeputyUntilUnix = "cy", "dee", 100
	return []*dirpb.Command{
		putUser("ann"), putUser("bob"), putUser("cy"), putUser("dee"),
		grantUntil("ann", "bob", "private", 100), grantUntil("ann", "cy", "private", 200),
		putGrant("ann", "dee", "private"), presetUntil("ann", "bob", "team", 100),
		putGroup(sales),
	}
}

func rawGroup(t *testing.T, s *Store, id string) *dirpb.Group {
	t.Helper()
	g, err := s.view().group(id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func rawGrantExists(t *testing.T, s *Store, layer Layer, target, viewer string) bool {
	t.Helper()
	byTarget, _ := layer.tables()
	_, err := s.view().grant(byTarget, target, viewer)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// ExpireGrants{100} ends exactly what ended at 100 — the grant and preset
// ann→bob, bob's membership and dee's deputyship — with the changes a
// revocation emits, and leaves what ends later or never.
func TestExpireGrants_EndsOnlyWhatIsDue(t *testing.T) {
	h := newHarness(t)
	h.mustApply(expiringDirectory()...)
	changes, stop := h.f.feed.subscribe(64)
	defer stop()

	h.mustApply(expireGrants(100))

	if rawGrantExists(t, h.s, LayerUser, "ann", "bob") || rawGrantExists(t, h.s, LayerPreset, "ann", "bob") {
		t.Error("the grant or preset ann→bob that ended at 100 is still stored")
	}
	for _, v := range []string{"cy", "dee"} {
		if !rawGrantExists(t, h.s, LayerUser, "ann", v) {
			t.Errorf("grant ann→%s (ends later or never) was deleted", v)
		}
	}
	g := rawGroup(t, h.s, "sales")
	var members []string
	for _, m := range g.Members {
		members = append(members, m.User)
	}
	if !slices.Equal(members, []string{"ann", "cy"}) {
		t.Errorf("members after expiry = %v, want [ann cy]", members)
	}
	if g.Deputy != "" || g.DeputyUntilUnix != 0 || g.Leader != "cy" {
		t.Errorf("leader/deputy = %q/%q until %d, want cy, none", g.Leader, g.Deputy, g.DeputyUntilUnix)
	}
	led, err := h.s.GroupsLedBy("dee")
	if err != nil || len(led) != 0 {
		t.Errorf("GroupsLedBy(dee) = %v, %v; want none", led, err)
	}

	var got []string
	for len(changes) > 0 {
		c := <-changes
		got = append(got, c.Kind.String()+":"+c.ID+":"+c.Viewer)
		if c.Kind == KindGroup && (!slices.Contains(c.Users, "bob") || !slices.Contains(c.Users, "dee")) {
			t.Errorf("group change names users %v; want bob and dee among them", c.Users)
		}
	}
	slices.Sort(got)
	if want := []string{"grant:ann:bob", "group:sales:", "preset:ann:bob"}; !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if next, ok, err := h.s.NextExpiry(); err != nil || !ok || next != 200 {
		t.Errorf("NextExpiry = %d, %v, %v; want 200", next, ok, err)
	}
}

// Applying ExpireGrants again, or at an earlier time, changes nothing and
// emits nothing; two stores applying the same log agree byte for byte.
func TestExpireGrants_IdempotentAndDeterministic(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	for _, h := range []*storeHarness{a, b} {
		h.mustApply(expiringDirectory()...)
		h.mustApply(expireGrants(150))
	}
	if d := diffDumps(dump(t, a.s), dump(t, b.s)); d != "" {
		t.Fatalf("two stores applying the same log differ:\n%s", d)
	}
	before := dump(t, a.s)
	changes, stop := a.f.feed.subscribe(64)
	defer stop()
	a.mustApply(expireGrants(150), expireGrants(99))
	after := dump(t, a.s)
	delete(before, string(keyApplied))
	delete(after, string(keyApplied))
	if d := diffDumps(before, after); d != "" {
		t.Errorf("a second ExpireGrants changed the directory:\n%s", d)
	}
	if len(changes) != 0 {
		t.Errorf("a second ExpireGrants emitted %d changes", len(changes))
	}
	a.mustApply(expireGrants(1 << 40))
	if _, ok, _ := a.s.NextExpiry(); ok {
		t.Error("the expiry index still has rows after everything ended")
	}
	if !rawGrantExists(t, a.s, LayerUser, "ann", "dee") {
		t.Error("the endless grant ann→dee was deleted")
	}
}

// Replacing a grant or a group drops the old until from the index: a
// grant made endless is never swept.
func TestExpireGrants_ReplacedUntilLeavesIndex(t *testing.T) {
	h := newHarness(t)
	h.mustApply(expiringDirectory()...)
	h.mustApply(putGrant("ann", "bob", "team"), putPreset("ann", "bob", "team"),
		putGrant("ann", "cy", "team"), putGroup(group("sales", "", "ann", "bob", "cy")))
	if next, ok, err := h.s.NextExpiry(); err != nil || ok {
		t.Fatalf("NextExpiry = %d, %v, %v; want none", next, ok, err)
	}
	h.mustApply(expireGrants(1000))
	if !rawGrantExists(t, h.s, LayerUser, "ann", "bob") || len(rawGroup(t, h.s, "sales").Members) != 3 {
		t.Error("ExpireGrants ended a grant or member whose until was removed")
	}
}

// The typed reads leave out what ended at the store's clock, before any
// sweep: the engine and every other reader stop counting it at that
// instant.
func TestStore_ReadsLeaveOutEndedBeforeSweep(t *testing.T) {
	h := newHarness(t)
	h.mustApply(expiringDirectory()...)
	clock := time.Unix(99, 0)
	h.s.now = func() time.Time { return clock }
	check := func(wantBob bool) {
		t.Helper()
		es, err := h.s.GrantsOn(LayerUser, "ann")
		if err != nil {
			t.Fatal(err)
		}
		hasBob := slices.ContainsFunc(es, func(e GrantEntry) bool { return e.Viewer == "bob" })
		_, gerr := h.s.Grant(LayerPreset, "ann", "bob")
		held, err := h.s.GrantsHeldBy(LayerUser, "bob")
		if err != nil {
			t.Fatal(err)
		}
		in, err := h.s.GroupsOf("bob")
		if err != nil {
			t.Fatal(err)
		}
		ms, err := h.s.MembersOf("sales")
		if err != nil {
			t.Fatal(err)
		}
		led, err := h.s.GroupsLedBy("dee")
		if err != nil {
			t.Fatal(err)
		}
		g, err := h.s.Group("sales")
		if err != nil {
			t.Fatal(err)
		}
		got := []bool{hasBob, gerr == nil, len(held) == 1, len(in) == 1, len(ms) == 3, len(led) == 1, g.Deputy == "dee", len(g.Members) == 3}
		for i, v := range got {
			if v != wantBob {
				t.Errorf("at %d: read %d says present=%v, want %v", clock.Unix(), i, v, wantBob)
			}
		}
		if !wantBob && !errors.Is(gerr, ErrNotFound) {
			t.Errorf("Grant of an ended preset: %v, want ErrNotFound", gerr)
		}
	}
	check(true)
	clock = time.Unix(100, 0) // the instant they end
	check(false)
	if !rawGrantExists(t, h.s, LayerUser, "ann", "bob") {
		t.Fatal("the grant was deleted without a sweep; the reads were not what left it out")
	}
}

// An until that no reader could show, or a deputy_until without a deputy,
// is refused by the FSM naming the field; a past until is not (the FSM
// cannot know the proposer's clock).
func TestFSM_UntilShapeChecked(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("ann"), putUser("bob"))
	noDeputy := group("g", "", "ann")
	noDeputy.DeputyUntilUnix = 100
	badMember := group("g", "", "ann")
	badMember.Members[0].UntilUnix = -1
	for _, tc := range []struct {
		name, field string
		cmd         *dirpb.Command
	}{
		{"negative grant until", "until_unix", grantUntil("ann", "bob", "team", -5)},
		{"grant until past year 9999", "until_unix", presetUntil("ann", "bob", "team", maxUntilUnix)},
		{"negative member until", "until_unix of member ann", putGroup(badMember)},
		{"deputy until without deputy", "deputy_until_unix", putGroup(noDeputy)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.apply(tc.cmd)[0]
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("err = %v, want ErrInvalid naming %q", err, tc.field)
			}
		})
	}
	h.mustApply(grantUntil("ann", "bob", "team", 1)) // in the past: the sweep's business
}

// The leader's sweep proposes ExpireGrants only when something is due,
// and sleeps until the next until.
func TestSweeper_ExpireGrantsAtEarliestUntil(t *testing.T) {
	n := newNode(t)
	applyAll(t, n, expiringDirectory()...)
	clock := time.Unix(50, 0)
	sw := &sweeper{dir: n, now: func() time.Time { return clock }, logger: slog.New(slog.DiscardHandler)}
	before := n.Applied()
	if wait := sw.expireGrantsDue(context.Background()); wait != 50*time.Second {
		t.Errorf("wait at 50 = %v, want 50s (until the first until at 100)", wait)
	}
	if n.Applied() != before {
		t.Error("the sweep proposed something before anything was due")
	}
	clock = time.Unix(100, 0)
	if wait := sw.expireGrantsDue(context.Background()); wait != 0 {
		t.Errorf("wait after ending = %v, want 0 (look again at once)", wait)
	}
	if wait := sw.expireGrantsDue(context.Background()); wait != grantCheckInterval {
		t.Errorf("wait after the sweep = %v, want %v (the next until, 200, is further)", wait, grantCheckInterval)
	}
	if _, err := n.Store().Grant(LayerUser, "ann", "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("grant ann→bob after the sweep: %v, want not found", err)
	}
}

// Started with the node, the loop ends a grant a second or two after its
// until (real clock), without a coarse period.
func TestSweeper_LoopEndsGrantAtUntil(t *testing.T) {
	n := newNode(t)
	stop := n.StartSweeps()
	defer stop()
	applyAll(t, n, putUser("ann"), putUser("bob"))
	until := time.Now().Add(time.Second).Unix() + 1
	applyAll(t, n, grantUntil("ann", "bob", "team", until))
	byTarget, _ := LayerUser.tables()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := n.Store().view().grant(byTarget, "ann", "bob")
		if errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grant with until %d still stored at %v", until, time.Now().Unix())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if late := time.Since(time.Unix(until, 0)); late > 3*time.Second {
		t.Errorf("grant swept %v after its until, want within a second or two", late)
	}
}

// expiryModel is the obviously correct reference of what may end: grants
// by layer and pair, and per group its members' and deputy's ends.
type expiryModel struct {
	grants  map[Layer]map[[2]string]int64 // (target, viewer) → until
	members map[string]map[string]int64   // group → user → until
	deputy  map[string]string             // group → deputy ("" none)
	depEnd  map[string]int64              // group → deputy's until
}

// live lists, sorted, what the model holds at now (0: everything).
func (m *expiryModel) live(now int64) []string {
	var out []string
	for layer, gs := range m.grants {
		for p, u := range gs {
			if now == 0 || !ended(u, now) {
				out = append(out, fmt.Sprintf("grant %d %s→%s until %d", layer, p[0], p[1], u))
			}
		}
	}
	for g, ms := range m.members {
		for user, u := range ms {
			if now == 0 || !ended(u, now) {
				out = append(out, fmt.Sprintf("member %s %s until %d", g, user, u))
			}
		}
		if d := m.deputy[g]; d != "" && (now == 0 || !ended(m.depEnd[g], now)) {
			out = append(out, fmt.Sprintf("deputy %s %s until %d", g, d, m.depEnd[g]))
		}
	}
	slices.Sort(out)
	return out
}

// earliest is the smallest until the model holds; false when none.
func (m *expiryModel) earliest() (int64, bool) {
	var min int64
	add := func(u int64) {
		if u != 0 && (min == 0 || u < min) {
			min = u
		}
	}
	for _, gs := range m.grants {
		for _, u := range gs {
			add(u)
		}
	}
	for g, ms := range m.members {
		for _, u := range ms {
			add(u)
		}
		if m.deputy[g] != "" {
			add(m.depEnd[g])
		}
	}
	return min, min != 0
}

// storeLive lists what the store's typed reads give at its clock.
func storeLive(t *testing.T, s *Store, users, groups []string) []string {
	t.Helper()
	var out []string
	for _, layer := range []Layer{LayerUser, LayerPreset} {
		for _, u := range users {
			es, err := s.GrantsOn(layer, u)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				out = append(out, fmt.Sprintf("grant %d %s→%s until %d", layer, e.Target, e.Viewer, e.Grant.UntilUnix))
			}
		}
	}
	for _, id := range groups {
		g, err := s.Group(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range g.Members {
			out = append(out, fmt.Sprintf("member %s %s until %d", id, m.User, m.UntilUnix))
		}
		if g.Deputy != "" {
			out = append(out, fmt.Sprintf("deputy %s %s until %d", id, g.Deputy, g.DeputyUntilUnix))
		}
	}
	slices.Sort(out)
	return out
}

// Random puts, deletions and sweeps of grants, presets, members and
// deputies with random ends agree with the reference: what the store
// holds, what its reads give at any clock, and the next until.
func TestExpireGrants_AgreeWithNaiveModel(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 19))
	h := newHarness(t)
	var clock atomic.Int64
	h.s.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	users, groups := []string{"u0", "u1", "u2", "u3"}, []string{"g0", "g1"}
	for _, u := range users {
		h.mustApply(putUser(u))
	}
	m := &expiryModel{grants: map[Layer]map[[2]string]int64{LayerUser: {}, LayerPreset: {}},
		members: map[string]map[string]int64{}, deputy: map[string]string{}, depEnd: map[string]int64{}}
	until := func() int64 {
		if rng.IntN(3) == 0 {
			return 0
		}
		return 1 + rng.Int64N(20)
	}
	for step := range 400 {
		switch op := rng.IntN(10); {
		case op < 4: // a grant or preset
			layer := []Layer{LayerUser, LayerPreset}[rng.IntN(2)]
			target, viewer := pick(rng, users), pick(rng, users)
			if target == viewer {
				continue
			}
			u := until()
			cmd := grantUntil(target, viewer, "team", u)
			if layer == LayerPreset {
				cmd = presetUntil(target, viewer, "team", u)
			}
			h.mustApply(cmd)
			m.grants[layer][[2]string{target, viewer}] = u
		case op < 5: // a deletion
			target, viewer := pick(rng, users), pick(rng, users)
			if _, ok := m.grants[LayerUser][[2]string{target, viewer}]; ok {
				h.mustApply(deleteGrant(target, viewer))
				delete(m.grants[LayerUser], [2]string{target, viewer})
			}
		case op < 7: // a group
			id := pick(rng, groups)
			g := &dirpb.Group{Id: id, Active: true}
			m.members[id] = map[string]int64{}
			for _, u := range users {
				if rng.IntN(2) == 0 {
					end := until()
					g.Members = append(g.Members, &dirpb.Member{User: u, UntilUnix: end})
					m.members[id][u] = end
				}
			}
			m.deputy[id], m.depEnd[id] = "", 0
			if rng.IntN(2) == 0 {
				g.Deputy, g.DeputyUntilUnix = pick(rng, users), until()
				m.deputy[id], m.depEnd[id] = g.Deputy, g.DeputyUntilUnix
			}
			h.mustApply(putGroup(g))
		default: // a sweep
			now := rng.Int64N(22)
			h.mustApply(expireGrants(now))
			for _, gs := range m.grants {
				maps.DeleteFunc(gs, func(_ [2]string, u int64) bool { return ended(u, now) })
			}
			for g, ms := range m.members {
				maps.DeleteFunc(ms, func(_ string, u int64) bool { return ended(u, now) })
				if ended(m.depEnd[g], now) {
					m.deputy[g], m.depEnd[g] = "", 0
				}
			}
		}
		clock.Store(0) // ends nothing: the reads show what is stored
		if got, want := storeLive(t, h.s, users, groups), m.live(0); !slices.Equal(got, want) {
			t.Fatalf("step %d: stored\n%v\nwant\n%v", step, got, want)
		}
		at := rng.Int64N(22)
		clock.Store(at)
		if got, want := storeLive(t, h.s, users, groups), m.live(at); !slices.Equal(got, want) {
			t.Fatalf("step %d: reads at %d\n%v\nwant\n%v", step, at, got, want)
		}
		next, ok, err := h.s.NextExpiry()
		wantNext, wantOK := m.earliest()
		if err != nil || ok != wantOK || next != wantNext {
			t.Fatalf("step %d: NextExpiry = %d, %v, %v; want %d, %v", step, next, ok, err, wantNext, wantOK)
		}
	}
}
