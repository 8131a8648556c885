package autopilot

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// at is an alive member named after its site: "b2" is the second node of
// site "b".
func at(id string) Member {
	m := alive(id)
	m.Site = id[:1]
	return m
}

func failedAt(id string, ago time.Duration) Member {
	m := at(id)
	m.Health, m.Since = Failed, t0.Add(-ago)
	return m
}

func TestStep_Sites(t *testing.T) {
	three := Config{Voters: 3, DeadGrace: 30 * time.Second}
	five := Config{Voters: 5, DeadGrace: 30 * time.Second}
	older := func(m Member) Member { m.Since = t0.Add(-time.Hour); return m }
	tests := []struct {
		name    string
		cfg     Config
		servers []Server
		members []Member
		st      State
		want    string
	}{
		{"three sites, three voters: one per site", three, []Server{voter("a1")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), at("c1"), at("c2")}, State{},
			"add_nonvoter a2, add_voter b1, add_nonvoter b2, add_voter c1, add_nonvoter c2"},
		{"three sites, five voters: 2-2-1", five,
			[]Server{voter("a1"), nonvoter("a2"), voter("b1"), nonvoter("b2"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), at("c1"), at("c2")}, State{}, "promote a2, promote b2"},
		{"two sites, three voters: 2-1, the leader's site has two", three, []Server{voter("a1")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2")}, State{}, "add_voter a2, add_voter b1, add_nonvoter b2"},
		{"two sites, five voters: 3-2", five, []Server{voter("a1")},
			[]Member{at("a1"), at("a2"), at("a3"), at("b1"), at("b2"), at("b3")}, State{},
			"add_voter a2, add_voter a3, add_voter b1, add_voter b2, add_nonvoter b3"},
		{"two sites of two nodes, five voters: three (an even count buys nothing)", five, []Server{voter("a1")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2")}, State{}, "add_voter a2, add_voter b1, add_nonvoter b2"},
		{"five voters, one big site and two small ones: three, 1-1-1, not a majority in one site", five,
			[]Server{voter("a1")}, []Member{at("a1"), at("a2"), at("a3"), at("a4"), at("a5"), at("b1"), at("c1")}, State{},
			"add_nonvoter a2, add_nonvoter a3, add_nonvoter a4, add_nonvoter a5, add_voter b1, add_voter c1"},
		{"four sites, three voters: 1-1-1-0", three, []Server{voter("a1")},
			[]Member{at("a1"), at("b1"), at("c1"), at("d1")}, State{}, "add_voter b1, add_voter c1, add_nonvoter d1"},
		{"a third site appears: its voter is added before the second voter of the leader's site is demoted", three,
			[]Server{voter("a1"), voter("a2"), voter("b1"), nonvoter("b2")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), at("c1")}, State{}, "add_voter c1, demote a2"},
		{"a site dies: its voter keeps its place during the grace period", three,
			[]Server{voter("a1"), nonvoter("a2"), voter("b1"), nonvoter("b2"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), failedAt("c1", 10*time.Second), failedAt("c2", 10*time.Second)},
			State{}, ""},
		{"a site dead beyond the grace period: removed, its voter moves to the leader's site (2-1)", three,
			[]Server{voter("a1"), nonvoter("a2"), voter("b1"), nonvoter("b2"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), failedAt("c1", 31*time.Second), failedAt("c2", 31*time.Second)},
			State{}, "remove c1, remove c2, promote a2"},
		{"the site returns: it gets its voter back, the leader's site gives one up", three,
			[]Server{voter("a1"), voter("a2"), voter("b1"), nonvoter("b2")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), at("c1"), at("c2")}, State{},
			"add_voter c1, add_nonvoter c2, demote a2"},
		{"a voter fails, its site has another node: kept during the grace period", three,
			[]Server{voter("a1"), voter("b1"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), at("b1"), failedAt("c1", 10*time.Second), at("c2")}, State{}, ""},
		{"a voter failed beyond the grace period: the other node of its site is promoted", three,
			[]Server{voter("a1"), voter("b1"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), at("b1"), failedAt("c1", 31*time.Second), at("c2")}, State{}, "remove c1, promote c2"},
		{"a spread plan is stable, whoever has been alive longer", three,
			[]Server{voter("a1"), nonvoter("a2"), voter("b1"), nonvoter("b2"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), older(at("a2")), at("b1"), older(at("b2")), at("c1"), older(at("c2"))}, State{}, ""},
		{"a 2-2-1 plan is stable", five,
			[]Server{voter("a1"), voter("a2"), voter("b1"), voter("b2"), voter("c1"), nonvoter("c2")},
			[]Member{at("a1"), at("a2"), at("b1"), at("b2"), at("c1"), at("c2")}, State{}, ""},
		{"within a site the longest alive member becomes the voter", three, []Server{voter("a1")},
			[]Member{at("a1"), at("b1"), older(at("b2")), at("c1")}, State{}, "add_nonvoter b1, add_voter b2, add_voter c1"},
		{"the leader keeps its vote in a site the order would skip", three,
			[]Server{voter("a1"), voter("b1"), voter("c1"), voter("d1")},
			[]Member{at("a1"), at("b1"), at("c1"), at("d1")}, State{}, "demote d1"},
		{"a failed voter is demoted before a healthy one; a site with a healthy node goes first", three,
			[]Server{voter("a1"), voter("a2"), voter("b1"), voter("c1"), voter("d1")},
			[]Member{at("a1"), at("a2"), failedAt("b1", time.Second), failedAt("c1", time.Second), at("d1")}, State{},
			"demote c1, demote a2"},
		{"a healthy voter is not demoted when the healthy voters left would not be a quorum", three,
			[]Server{voter("a1"), voter("a2"), voter("a3"), voter("b1"), voter("c1")},
			[]Member{at("a1"), at("a2"), at("a3"), failedAt("b1", time.Second), failedAt("c1", time.Second)}, State{}, ""},
		{"a voter no member names counts for its remembered site", three,
			[]Server{voter("a1"), voter("a2"), voter("b1")}, []Member{at("a1"), at("b1"), at("c1")},
			State{Sites: map[string]string{"a2": "a"}}, "add_voter c1, demote a2"},
		{"a voter of unknown site: additions only, as non-voters", three,
			[]Server{voter("a1"), voter("a2"), voter("b1")}, []Member{at("a1"), at("b1"), at("c1")},
			State{}, "add_nonvoter c1"},
		{"a non-voter re-added at a new address is promoted in a later step, not with its old address now", three,
			[]Server{voter("a1"), voter("b1"), nonvoter("c1")},
			[]Member{at("a1"), at("b1"), func() Member { m := at("c1"); m.RaftAddr = "c1:9999"; return m }()}, State{},
			"add_nonvoter c1"},
		{"one named site behaves as the unnamed one", three, []Server{voter("a1")},
			[]Member{at("a1"), at("a2"), at("a3"), at("a4")}, State{}, "add_voter a2, add_voter a3, add_nonvoter a4"},
		{"nodes without a site are a site of their own", three, []Server{voter("a1")},
			[]Member{at("a1"), at("a2"), alive("x1")}, State{}, "add_voter a2, add_voter x1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Self: "a1", ClusterID: "c1", Servers: tc.servers, Members: tc.members, Now: t0}
			_, acts := Step(tc.cfg, tc.st, in)
			if got := render(acts); got != tc.want {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStep_SiteRemembered: a voter whose member vanishes keeps counting
// for the site its member gave in an earlier step.
func TestStep_SiteRemembered(t *testing.T) {
	cfg := Config{Voters: 3, DeadGrace: 30 * time.Second}
	in := Input{Self: "a1", ClusterID: "c1", Now: t0,
		Servers: []Server{voter("a1"), voter("b1"), voter("c1"), nonvoter("c2")},
		Members: []Member{at("a1"), at("b1"), at("c1"), at("c2")}}
	st, acts := Step(cfg, State{}, in)
	if len(acts) != 0 {
		t.Fatalf("first step: %s", render(acts))
	}
	in.Members = []Member{at("a1"), at("b1"), at("c2")}
	in.Now = t0.Add(time.Second)
	st, acts = Step(cfg, st, in)
	if got := render(acts); got != "" {
		t.Fatalf("c1 vanished: actions %q, want none during the grace period", got)
	}
	if st.Sites["c1"] != "c" {
		t.Fatalf("state forgot c1's site: %v", st.Sites)
	}
}

// TestStep_SitesConverge applies Step's actions from random multi-site
// starts until none are left and checks the policy against a naive
// reading of it: the leader is a voter; every alive member is a server;
// the voter count is min(Voters, servers), odd, and lower only to keep a
// majority out of one site when three or more sites exist; no such site
// holds a majority; shares differ by more than one only where a site has
// no node left to give.
func TestStep_SitesConverge(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := range 1000 {
		cfg := Config{Voters: 1 + 2*rng.IntN(3), DeadGrace: 30 * time.Second}
		servers := []Server{voter("a0")}
		members := []Member{at("a0")}
		for i := 1; i < 2+rng.IntN(9); i++ {
			id := fmt.Sprintf("%c%d", 'a'+rune(rng.IntN(4)), i)
			if rng.IntN(2) == 0 {
				servers = append(servers, Server{ID: id, Addr: id + ":8300", Voter: rng.IntN(2) == 0})
			}
			m := at(id)
			m.Since = t0.Add(-time.Duration(rng.IntN(100)) * time.Second)
			switch rng.IntN(5) {
			case 0:
				m.Health, m.Since = Failed, t0.Add(-time.Minute)
			case 1:
				m.Health = Left
			}
			members = append(members, m)
		}
		in := Input{Self: "a0", ClusterID: "c1", Members: members, Now: t0}
		var st State
		for step := 0; ; step++ {
			in.Servers = servers
			var acts []Action
			st, acts = Step(cfg, st, in)
			if len(acts) == 0 {
				break
			}
			if step > 5 {
				t.Fatalf("round %d: no convergence after %d steps: %v", round, step, acts)
			}
			servers = applyActions(servers, acts)
		}
		checkSpread(t, round, cfg, servers, members)
	}
}

func checkSpread(t *testing.T, round int, cfg Config, servers []Server, members []Member) {
	t.Helper()
	site := map[string]string{}
	for _, m := range members {
		site[m.RaftID] = m.Site
	}
	nodes, share := map[string]int{}, map[string]int{}
	voters := 0
	for _, s := range servers {
		nodes[site[s.ID]]++
		if s.Voter {
			share[site[s.ID]]++
			voters++
		}
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("round %d (voters %d): %s: %v", round, cfg.Voters, fmt.Sprintf(format, args...), servers)
	}
	for _, m := range members {
		in := slicesHas(servers, m.RaftID)
		if m.Health == Alive && !in {
			fail("alive %s not a server", m.RaftID)
		}
		if m.Health != Alive && in && m.RaftID != "a0" {
			fail("departed %s still a server", m.RaftID)
		}
	}
	if servers[0].ID != "a0" || !servers[0].Voter {
		fail("leader not a voter")
	}
	if len(nodes) < 2 {
		if voters != min(cfg.Voters, len(servers)) {
			fail("one site: %d voters", voters)
		}
		return
	}
	want := min(cfg.Voters, len(servers))
	if want%2 == 0 {
		want--
	}
	if voters != want && !(len(nodes) >= 3 && voters < want && voters%2 == 1) {
		fail("%d voters, want %d", voters, want)
	}
	for name, n := range share {
		if len(nodes) >= 3 && voters > 1 && 2*n > voters {
			fail("site %q holds %d of %d voters", name, n, voters)
		}
	}
	for a := range nodes {
		for b := range nodes {
			if share[a] > share[b]+1 && share[b] < nodes[b] && voters == want {
				fail("site %q has %d voters, %q only %d of %d nodes", a, share[a], b, share[b], nodes[b])
			}
		}
	}
}

func slicesHas(servers []Server, id string) bool {
	for _, s := range servers {
		if s.ID == id {
			return true
		}
	}
	return false
}
