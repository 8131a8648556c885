package dirrights

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func openDir(t *testing.T) *persistence.Node {
	t.Helper()
	return testdir.Open(t, persistence.Config{})
}

func apply(t *testing.T, n *persistence.Node, cmd *dirpb.Command) {
	t.Helper()
	if _, err := n.Apply(context.Background(), cmd); err != nil {
		t.Fatalf("apply %v: %v", cmd, err)
	}
}

func putUser(id string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id, DisplayName: id}}}}
}

func putGroup(g *dirpb.Group) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}}
}

func putGrant(preset bool, target, viewer string, g *dirpb.Grant) *dirpb.Command {
	pg := &dirpb.PutGrant{Target: target, Viewer: viewer, Grant: g}
	if preset {
		return &dirpb.Command{Op: &dirpb.Command_PutPreset{PutPreset: pg}}
	}
	return &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: pg}}
}

func members(ids ...string) []*dirpb.Member {
	var ms []*dirpb.Member
	for _, id := range ids {
		ms = append(ms, &dirpb.Member{User: id, Role: "user"})
	}
	return ms
}

func TestLoadTarget_LeaderExampleFromTheStore(t *testing.T) {
	n := openDir(t)
	for _, u := range []string{"anna", "ben", "lea", "zoe"} {
		apply(t, n, putUser(u))
	}
	apply(t, n, putGroup(&dirpb.Group{Id: "support", Active: true, Members: members("anna", "ben"),
		Leader: "lea", MemberGrant: &dirpb.Grant{Level: "public"}, LeaderGrant: &dirpb.Grant{Level: "business"},
		Services: []string{"chat"}}))
	apply(t, n, putGrant(true, "anna", "zoe", &dirpb.Grant{Rights: map[string]string{"set_presence": "true", "av_see_line_state": "red"}}))

	tg, err := LoadTarget(n.Store(), "anna")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Global != DefaultGlobal {
		t.Errorf("no global set: got %v, want the public default", tg.Global.Set)
	}
	lea := rights.Explain(tg.Pair("lea"))
	if lea.Level() != rights.Business || lea.Because[rights.Line1SeeIncoming][0].String() != "leader:support" {
		t.Errorf("lea over anna: %s because %v", lea.Set, lea.Because[rights.Line1SeeIncoming])
	}
	zoe := rights.Effective(tg.Pair("zoe"))
	if !zoe.Has(rights.SetPresence) || zoe.Grade(rights.AVSeeLineState) != rights.AVRed || zoe.Level() != rights.Special {
		t.Errorf("zoe over anna: %s", zoe)
	}
	if p := tg.Presets["zoe"]; p == nil || !p.Individual {
		t.Error("an individual preset must lock the pair")
	}
	if rights.CheckUserGrant(tg.Presets["zoe"]) == nil {
		t.Error("anna may change her grant to zoe despite the individual preset")
	}
	everyone, who := tg.Holders(rights.SetPresence)
	if everyone || !slices.Equal(who, []string{"anna", "zoe"}) {
		t.Errorf("holders of set_presence: %v %v", everyone, who)
	}
	if everyone, _ := tg.Holders(rights.SeePresence); !everyone {
		t.Error("public global gives see_presence to everyone")
	}

	// A global change is seen on reload.
	apply(t, n, &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{Grant: &dirpb.Grant{Level: "blocked"}}}}})
	tg, err = LoadTarget(n.Store(), "anna")
	if err != nil {
		t.Fatal(err)
	}
	if got := rights.Effective(tg.Pair("ben")); got.Level() != rights.Public {
		t.Errorf("ben over anna with blocked global: %s, want public from the group", got)
	}
	if got := rights.Effective(tg.Pair("ben")); rights.Effective(tg.Pair("nobody")) != 0 || got == 0 {
		t.Errorf("blocked global still gives an outsider something")
	}
}

func TestGrant_StoredFormsRoundTrip(t *testing.T) {
	for l := rights.Blocked; l <= rights.Personal; l++ {
		g, err := Grant(StoredGrant(rights.LevelGrant(l)))
		if err != nil || g != rights.LevelGrant(l) {
			t.Errorf("%s: %v, %v", l, g, err)
		}
	}
	ind := rights.RightsGrant(rights.Set(0).With(rights.SeeNote, 1).With(rights.SeePrivateAppointments, rights.AppointmentsBusy))
	g, err := Grant(StoredGrant(ind))
	if err != nil || g != ind {
		t.Errorf("individual: %v, %v", g, err)
	}
	for name, bad := range map[string]*dirpb.Grant{
		"unknown level": {Level: "friends"},
		"both":          {Level: "team", Rights: map[string]string{"see_note": "true"}},
		"unknown right": {Rights: map[string]string{"see_mind": "true"}},
		"bad grade":     {Rights: map[string]string{"av_see_line_state": "blue"}},
	} {
		if _, err := Grant(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Random directories written through Raft into Pebble: what LoadTarget feeds
// the engine must give, for every pair, the answer the engine gives on the
// generator's own model; and Holders must list exactly the viewers whose
// effective set holds the right.
func TestLoadTarget_MatchesModelOverRandomDirectories(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	n := openDir(t)
	users := []string{"u0", "u1", "u2", "u3", "u4"}
	for _, u := range users {
		apply(t, n, putUser(u))
	}
	model := map[string]*rights.Pair{}
	var groups []*rights.Group
	randGrant := func() (*dirpb.Grant, rights.Grant) {
		if rng.IntN(2) == 0 {
			l := rights.Level(rng.IntN(rights.NumLevels))
			return &dirpb.Grant{Level: l.String()}, rights.LevelGrant(l)
		}
		var s rights.Set
		for _, r := range rights.AllRights() {
			s = s.With(r, rights.Grade(rng.IntN(3)))
		}
		g := rights.RightsGrant(s)
		return StoredGrant(g), g
	}
	gg, global := randGrant()
	apply(t, n, &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{Grant: gg}}}})
	for i := range 4 {
		pick := func() string { return []string{"", "u0", "u2", "u4"}[rng.IntN(4)] }
		mg, mgr := randGrant()
		lg, lgr := randGrant()
		leader, deputy := pick(), pick()
		if deputy == leader {
			deputy = ""
		}
		rg := &rights.Group{ID: fmt.Sprintf("g%d", i), Active: rng.IntN(3) > 0, Leader: leader, Deputy: deputy,
			MemberGrant: mgr, LeaderGrant: lgr, Members: map[string]struct{}{}}
		var ids []string
		for _, u := range users {
			if rng.IntN(2) == 0 {
				ids = append(ids, u)
				rg.Members[u] = struct{}{}
			}
		}
		apply(t, n, putGroup(&dirpb.Group{Id: rg.ID, Active: rg.Active, Leader: rg.Leader, Deputy: rg.Deputy,
			Members: members(ids...), MemberGrant: mg, LeaderGrant: lg}))
		groups = append(groups, rg)
	}
	for _, tg := range users {
		for _, v := range users {
			p := &rights.Pair{Viewer: v, Target: tg, Global: global, Groups: groups}
			if tg != v && rng.IntN(3) == 0 {
				sg, g := randGrant()
				preset := rng.IntN(2) == 0
				apply(t, n, putGrant(preset, tg, v, sg))
				if preset {
					p.Preset = &g
				} else {
					p.User = &g
				}
			}
			model[tg+"/"+v] = p
		}
	}
	for _, tg := range users {
		loaded, err := LoadTarget(n.Store(), tg)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rights.AllRights() {
			var want []string
			for _, v := range users {
				if rights.Effective(model[tg+"/"+v]).Has(r) {
					want = append(want, v)
				}
			}
			everyone, got := loaded.Holders(r)
			if everyone {
				got = users
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: holders of %s over %s: %v, want %v", seed, r, tg, got, want)
			}
		}
	}
	// Reach is Holders read the other way round.
	for _, v := range users {
		for _, r := range rights.AllRights() {
			var want []string
			for _, tg := range users {
				if rights.Effective(model[tg+"/"+v]).Has(r) {
					want = append(want, tg)
				}
			}
			everyone, got, err := Reach(n.Store(), v, r)
			if err != nil {
				t.Fatal(err)
			}
			if everyone {
				got = users
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: %s reaches with %s %v, want %v", seed, v, r, got, want)
			}
		}
	}
	for _, tg := range users {
		loaded, err := LoadTarget(n.Store(), tg)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range users {
			got, want := rights.Explain(loaded.Pair(v)), rights.Explain(model[tg+"/"+v])
			if got.Set != want.Set || fmt.Sprint(got.Because) != fmt.Sprint(want.Because) {
				t.Fatalf("seed %d: %s over %s: loaded %s, model %s", seed, v, tg, got.Set, want.Set)
			}
		}
	}
}

func TestLineKind_PrimaryUnlessSecondary(t *testing.T) {
	cases := []struct {
		kind string
		want rights.LineKind
	}{
		{dirpb.KindPrimary, rights.PrimaryLine},
		{"", rights.PrimaryLine}, // stored before kinds existed
		{dirpb.KindSecondary, rights.SecondaryLine},
	}
	for _, tc := range cases {
		if got := LineKind(&dirpb.Line{Number: "100", Kind: tc.kind}); got != tc.want {
			t.Errorf("LineKind(kind %q) = %v, want %v", tc.kind, got, tc.want)
		}
	}
}
