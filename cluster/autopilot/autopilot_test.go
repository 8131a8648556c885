package autopilot

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func alive(id string) Member {
	return Member{RaftID: id, RaftAddr: id + ":8300", ClusterID: "c1", Health: Alive, Since: t0}
}

func voter(id string) Server    { return Server{ID: id, Addr: id + ":8300", Voter: true} }
func nonvoter(id string) Server { return Server{ID: id, Addr: id + ":8300"} }

func render(acts []Action) string {
	var out []string
	for _, a := range acts {
		out = append(out, a.Kind.String()+" "+a.ID)
	}
	return strings.Join(out, ", ")
}

func TestStep(t *testing.T) {
	cfg := Config{Voters: 3, DeadGrace: 30 * time.Second}
	failed := func(id string, ago time.Duration) Member {
		m := alive(id)
		m.Health, m.Since = Failed, t0.Add(-ago)
		return m
	}
	left := func(id string) Member { m := alive(id); m.Health = Left; return m }
	tests := []struct {
		name    string
		servers []Server
		members []Member
		missing map[string]time.Time
		want    string
	}{
		{"single node, nothing to do", []Server{voter("n1")}, []Member{alive("n1")}, nil, ""},
		{"adds members as voters up to three", []Server{voter("n1")},
			[]Member{alive("n1"), alive("n2"), alive("n3"), alive("n4")}, nil,
			"add_voter n2, add_voter n3, add_nonvoter n4"},
		{"a fresh node without cluster id is added", []Server{voter("n1")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:8300", Health: Alive, Joining: true}}, nil, "add_voter n2"},
		{"a member of another cluster is not added", []Server{voter("n1")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:8300", ClusterID: "other", Health: Alive}}, nil, ""},
		{"a member without raft address is not added", []Server{voter("n1")},
			[]Member{alive("n1"), {RaftID: "n2", Health: Alive}}, nil, ""},
		{"a left server is removed at once", []Server{voter("n1"), voter("n2"), voter("n3")},
			[]Member{alive("n1"), alive("n2"), left("n3")}, nil, "remove n3"},
		{"a failed server keeps its place during the grace period", []Server{voter("n1"), voter("n2"), voter("n3")},
			[]Member{alive("n1"), alive("n2"), failed("n3", 29*time.Second)}, nil, ""},
		{"a failed server is removed after the grace period and a non-voter promoted",
			[]Server{voter("n1"), voter("n2"), voter("n3"), nonvoter("n4")},
			[]Member{alive("n1"), alive("n2"), failed("n3", 31*time.Second), alive("n4")}, nil, "remove n3, promote n4"},
		{"a server no member names is removed after the grace period", []Server{voter("n1"), voter("n2")},
			[]Member{alive("n1")}, map[string]time.Time{"n2": t0.Add(-time.Minute)}, "remove n2"},
		{"a server first seen missing is kept", []Server{voter("n1"), voter("n2")},
			[]Member{alive("n1")}, nil, ""},
		{"the leader is never removed", []Server{voter("n1")}, []Member{left("n1")}, nil, ""},
		{"too many voters: the highest non-leader id is demoted", []Server{voter("n1"), voter("n2"), voter("n3"), voter("n4")},
			[]Member{alive("n1"), alive("n2"), alive("n3"), alive("n4")}, nil, "demote n4"},
		{"too many voters: a failed one is demoted first", []Server{voter("n1"), voter("n2"), voter("n3"), voter("n4")},
			[]Member{alive("n1"), failed("n2", time.Second), alive("n3"), alive("n4")}, nil, "demote n2"},
		{"a restarted member with a new raft address is re-addressed", []Server{voter("n1"), voter("n2")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:9999", ClusterID: "c1", Health: Alive}}, nil, "add_voter n2"},
		{"a joining identity that left does not remove the server; the real member speaks",
			[]Server{voter("n1"), voter("n2")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:8300", Health: Left, Joining: true}, alive("n2")}, nil, ""},
		{"a node rejoining under its old name: its joining identity, leaving for the real name, speaks over the real name's earlier departure",
			[]Server{voter("n1"), voter("n2")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:8300", Health: Left, Since: t0.Add(-time.Minute)},
				{RaftID: "n2", RaftAddr: "n2:8300", Health: Left, Joining: true, Since: t0.Add(-time.Second)}}, nil, ""},
		{"a joining identity that left long before the real name's departure does not keep the server",
			[]Server{voter("n1"), voter("n2")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:8300", Health: Left, Since: t0.Add(-time.Second)},
				{RaftID: "n2", RaftAddr: "n2:8300", Health: Left, Joining: true, Since: t0.Add(-time.Minute)}}, nil, "remove n2"},
		{"a joining identity that left is not a removal", []Server{voter("n1"), voter("n2")},
			[]Member{alive("n1"), {RaftID: "n2", RaftAddr: "n2:8300", Health: Left, Joining: true}}, nil, ""},
		{"a suspect-free non-voter is promoted when a voter slot is free", []Server{voter("n1"), nonvoter("n2")},
			[]Member{alive("n1"), alive("n2")}, nil, "promote n2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Self: "n1", ClusterID: "c1", Servers: tc.servers, Members: tc.members, Now: t0}
			_, acts := Step(cfg, State{Missing: tc.missing}, in)
			if got := render(acts); got != tc.want {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStep_MissingServerRemovedAfterGraceAcrossCalls(t *testing.T) {
	cfg := Config{Voters: 3, DeadGrace: 10 * time.Second}
	in := Input{Self: "n1", ClusterID: "c1", Servers: []Server{voter("n1"), voter("n2")}, Members: []Member{alive("n1")}}
	var st State
	for i, want := range []string{"", "", "remove n2"} {
		in.Now = t0.Add(time.Duration(i) * 6 * time.Second)
		var acts []Action
		st, acts = Step(cfg, st, in)
		if got := render(acts); got != want {
			t.Fatalf("call %d at +%v: actions %q, want %q", i, in.Now.Sub(t0), got, want)
		}
	}
}

// TestStep_Converges applies Step's actions to a simulated configuration
// until none are left, from random starts, and checks the invariants: the
// leader stays a voter, every alive member of the cluster is a server,
// no departed one beyond the grace period is, and the voter count is
// min(Voters, servers).
func TestStep_Converges(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := range 500 {
		cfg := Config{Voters: 1 + 2*rng.IntN(3), DeadGrace: 30 * time.Second}
		servers := []Server{voter("n0")}
		members := []Member{alive("n0")}
		for i := 1; i < 2+rng.IntN(7); i++ {
			id := fmt.Sprintf("n%d", i)
			if rng.IntN(2) == 0 {
				servers = append(servers, Server{ID: id, Addr: id + ":8300", Voter: rng.IntN(2) == 0})
			}
			m := alive(id)
			switch rng.IntN(5) {
			case 0:
				m.Health, m.Since = Failed, t0.Add(-time.Minute)
			case 1:
				m.Health = Left
			}
			members = append(members, m)
		}
		in := Input{Self: "n0", ClusterID: "c1", Members: members, Now: t0}
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
		checkConverged(t, round, cfg, servers, members)
	}
}

func applyActions(servers []Server, acts []Action) []Server {
	out := slices.Clone(servers)
	for _, a := range acts {
		i := slices.IndexFunc(out, func(s Server) bool { return s.ID == a.ID })
		switch a.Kind {
		case AddVoter, AddNonvoter:
			s := Server{ID: a.ID, Addr: a.Addr, Voter: a.Kind == AddVoter}
			if i >= 0 {
				out[i] = s
			} else {
				out = append(out, s)
			}
		case Promote:
			out[i].Voter = true
		case Demote:
			out[i].Voter = false
		case Remove:
			out = slices.Delete(out, i, i+1)
		}
	}
	return out
}

func checkConverged(t *testing.T, round int, cfg Config, servers []Server, members []Member) {
	t.Helper()
	is := map[string]Server{}
	for _, s := range servers {
		is[s.ID] = s
	}
	if !is["n0"].Voter {
		t.Fatalf("round %d: leader not a voter: %v", round, servers)
	}
	for _, m := range members {
		_, ok := is[m.RaftID]
		if m.Health == Alive && !ok {
			t.Fatalf("round %d: alive %s not a server: %v", round, m.RaftID, servers)
		}
		if m.Health != Alive && ok && m.RaftID != "n0" {
			t.Fatalf("round %d: departed %s still a server: %v", round, m.RaftID, servers)
		}
	}
	if got, want := countVoters(servers), min(cfg.Voters, len(servers)); got != want {
		t.Fatalf("round %d: %d voters, want %d: %v", round, got, want, servers)
	}
}
