//go:build !race

// Several protoactor-go nodes in one process make the race detector report
// races inside the library (upstream #1108, PITFALLS.md), so this file is
// left out of `go test -race`; the Makefile runs it without -race.

package actors

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// startCluster starts n nodes that find each other by gossip, each with
// its own directory, and waits until every node sees all of them.
func startCluster(t *testing.T, n int) []*testNode {
	t.Helper()
	nodes := []*testNode{startTestNode(t, "n0")}
	seed := nodes[0].cn.Membership().LocalAddr()
	for i := 1; i < n; i++ {
		nodes = append(nodes, startTestNode(t, fmt.Sprintf("n%d", i), seed))
	}
	waitTopology(t, nodes, n)
	return nodes
}

func countInTopology(n *testNode) int {
	c := 0
	for _, m := range n.cn.Members() {
		if m.InTopology {
			c++
		}
	}
	return c
}

// applyAll writes the same commands to every node's directory (Raft
// replication across nodes arrives with the cluster-operations issue).
func applyAll(t *testing.T, nodes []*testNode, cmds ...*dirpb.Command) {
	t.Helper()
	for _, n := range nodes {
		n.apply(t, cmds...)
	}
}

// randomDirectory is a directory of users with random groups and grants.
func randomDirectory(rng *rand.Rand, users []string) []*dirpb.Command {
	levels := []string{"blocked", "public", "business", "team", "personal"}
	cmds := []*dirpb.Command{putGlobal(levels[rng.IntN(2)])}
	for _, u := range users {
		cmds = append(cmds, putUser(u, rng.IntN(2) == 0))
	}
	for g := range 3 {
		grp := &dirpb.Group{Id: fmt.Sprintf("g%d", g), Active: rng.IntN(4) > 0,
			MemberGrant: &dirpb.Grant{Level: levels[rng.IntN(5)]}, LeaderGrant: &dirpb.Grant{Level: levels[rng.IntN(5)]},
			Leader: users[rng.IntN(len(users))]}
		for _, u := range users {
			if rng.IntN(3) == 0 {
				grp.Members = append(grp.Members, &dirpb.Member{User: u, Role: "user"})
			}
		}
		cmds = append(cmds, &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: grp}}})
	}
	for range len(users) * 2 {
		target, viewer := users[rng.IntN(len(users))], users[rng.IntN(len(users))]
		if target != viewer {
			cmds = append(cmds, putGrant(target, viewer, levels[rng.IntN(5)]))
		}
	}
	return cmds
}

type watch struct {
	node   int
	viewer string
	target string
	s      *Session
}

// Watchers on all three nodes receive exactly what the rights engine says
// they may see of each change, whichever node the change is made on and
// whichever node hosts the target's grain; each identity is active once.
func TestMultiNode_PresenceFanOutFilteredByRightsOnEveryNode(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	nodes := startCluster(t, 3)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"}
	applyAll(t, nodes, randomDirectory(rng, users)...)

	var watches []*watch
	for i, node := range nodes {
		for _, viewer := range users {
			for _, target := range users {
				if viewer == target || rng.IntN(2) == 0 {
					continue
				}
				w := &watch{node: i, viewer: viewer, target: target, s: node.hub.Open(viewer, 64)}
				if _, err := node.hub.Watch(reqCtx(t), w.s, target); err != nil {
					t.Fatal(err)
				}
				watches = append(watches, w)
			}
		}
	}
	// Expected views come from the engine over node 0's directory.
	expect := func(viewer, target string, p presence.Presence) (presence.View, bool) {
		tg, err := dirrights.LoadTarget(nodes[0].dir.Store(), target)
		if err != nil {
			t.Fatal(err)
		}
		u, err := nodes[0].dir.Store().User(target)
		if err != nil {
			t.Fatal(err)
		}
		return presence.ViewFor(p, rights.Effective(tg.Pair(viewer)), u.GetIdleDisplay())
	}
	states := []string{"available", "away", "busy", "dnd"}
	for round := range 3 {
		current := map[string]presence.Presence{}
		for _, target := range users {
			st := states[(round+len(target))%len(states)]
			note := fmt.Sprintf("note %d", round)
			via := nodes[rng.IntN(len(nodes))]
			resp, err := via.cn.Request(reqCtx(t), target, KindUser, &actorspb.SetPresence{Actor: target, State: &st, Note: &note})
			if err != nil || resp.(*actorspb.SetPresenceReply).GetError() != nil {
				t.Fatalf("set presence of %s: %v %v", target, err, resp)
			}
			s, _ := presence.ParseState(st)
			current[target] = presence.Presence{State: s, Note: note}
		}
		for _, w := range watches {
			v, ok := expect(w.viewer, w.target, current[w.target])
			if !ok {
				continue
			}
			ev := nextEvent(t, w.s, 10*time.Second)
			if ev.Target != w.target || ev.View.GetState() != v.State.String() || ev.View.GetNote() != v.Note {
				t.Fatalf("seed %d round %d: %s on n%d watching %s got %v, want %+v", seed, round, w.viewer, w.node, w.target, ev, v)
			}
		}
	}
	// Nothing beyond what the engine allows: every visible event was read;
	// the last batch of each target was delivered with (or before) those.
	for _, w := range watches {
		assertQuiet(t, w.s)
	}
	active := 0
	for _, n := range nodes {
		active += n.deps.Count(KindUser)
	}
	if active != len(users) {
		t.Errorf("%d user grains active across the cluster, want %d (one per identity)", active, len(users))
	}
}

// A revoked right stops events to a watcher on another node than the
// target's grain; the time from the directory change to the "not visible"
// event is logged (the bound is measured by the benchmark harness).
func TestMultiNode_RevocationReachesRemoteWatcher(t *testing.T) {
	nodes := startCluster(t, 3)
	applyAll(t, nodes, putUser("anna", false), putUser("ben", false), putGlobal("blocked"), putGrant("anna", "ben", "team"))
	var sessions []*Session
	for _, n := range nodes {
		s := n.hub.Open("ben", 8)
		if v, err := n.hub.Watch(reqCtx(t), s, "anna"); err != nil || !v.GetVisible() {
			t.Fatalf("watch: %v %v", v, err)
		}
		sessions = append(sessions, s)
	}
	start := time.Now()
	applyAll(t, nodes, deleteGrant("anna", "ben"))
	for i, s := range sessions {
		if ev := nextEvent(t, s, 5*time.Second); ev.View.GetVisible() {
			t.Fatalf("watcher on n%d got %v after revocation", i, ev)
		}
	}
	t.Logf("revocation reached watchers on 3 nodes %v after the first directory write (3 sequential writes included)", time.Since(start))
	st := "busy"
	if _, err := nodes[1].cn.Request(reqCtx(t), "anna", KindUser, &actorspb.SetPresence{Actor: "anna", State: &st}); err != nil {
		t.Fatal(err)
	}
	// A marker: a watcher that may see anna gets the change; ben's sessions,
	// served by the same batches, must stay quiet.
	applyAll(t, nodes, putUser("carl", false), putGrant("anna", "carl", "public"))
	carl := nodes[2].hub.Open("carl", 8)
	if _, err := nodes[2].hub.Watch(reqCtx(t), carl, "anna"); err != nil {
		t.Fatal(err)
	}
	st = "away"
	if _, err := nodes[0].cn.Request(reqCtx(t), "anna", KindUser, &actorspb.SetPresence{Actor: "anna", State: &st}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, carl, 5*time.Second); ev.View.GetState() != "away" {
		t.Fatalf("carl got %v", ev)
	}
	for i, s := range sessions {
		select {
		case ev := <-s.Events:
			t.Errorf("ben on n%d still gets events after revocation: %v", i, ev)
		default:
		}
	}
}

// A group's watched copy of its members stays right across nodes: changes
// made through any node reach the group wherever it lives, and after a
// node joins (grains move, the topology changes) the plans still follow
// every change.
func TestMultiNode_GroupWatchesMembersAcrossNodesAndMoves(t *testing.T) {
	nodes := startCluster(t, 3)
	applyAll(t, nodes, putGlobal("public"))
	var members []*dirpb.Member
	var users []string
	for i := range 6 {
		u, line := fmt.Sprint("m", i), fmt.Sprint(100+i)
		applyAll(t, nodes, putUser(u, false), putLine(line, u, "primary", nil))
		members, users = append(members, &dirpb.Member{User: u}), append(users, u)
	}
	// Each test node has a directory of its own (see applyAll): the
	// bindings go to every one, so a line grain finds them wherever it
	// lives.
	var regs []*dirpb.Command
	for i := range 6 {
		line := fmt.Sprint(100 + i)
		regs = append(regs, &dirpb.Command{Op: &dirpb.Command_UpdateRegistrations{UpdateRegistrations: &dirpb.UpdateRegistrations{
			Line: line, Put: []*dirpb.Registration{{Line: line, Contact: "sip:" + line + "@192.0.2.1:5060", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}}}}})
	}
	applyAll(t, nodes, regs...)
	applyAll(t, nodes, putGroup(&dirpb.Group{Id: "desk", Active: true, Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all", SkipBusy: true}}))
	expect := func(ns []*testNode, dnd map[string]bool) {
		t.Helper()
		want := ""
		var skips string
		for _, u := range users {
			if dnd[u] {
				skips += " skip " + u + ":dnd"
			} else {
				want += " " + u
			}
		}
		want = fmt.Sprintf("[%s]%s -> \"\"/480", want[1:], skips)
		for _, n := range ns {
			eventually(t, 10*time.Second, func() string {
				if got := planString(n.ringPlan(t, "desk")); got != want {
					return fmt.Sprintf("plan through %s: %s, want %s", n.cn.Name(), got, want)
				}
				return ""
			})
		}
	}
	dnd := map[string]bool{}
	expect(nodes, dnd)
	var counts []*sync.Map
	for _, n := range nodes {
		counts = append(counts, countingRequests(t, n))
	}
	asks := func() (sum int64) {
		for _, c := range counts {
			sum += requestsOf(c, KindUser) + requestsOf(c, KindLine)
		}
		return sum
	}
	// Once the group holds every member, plans ask nobody, and changes
	// made through any node reach it without asking.
	eventually(t, 5*time.Second, func() string {
		before := asks()
		expect(nodes[:1], dnd)
		if after := asks(); after != before {
			return fmt.Sprintf("a plan asked %d member grains", after-before)
		}
		return ""
	})
	before := asks()
	for i, u := range users[:3] {
		nodes[i%3].setPresence(t, u, u, &actorspb.SetPresence{State: ptr("dnd")})
		dnd[u] = true
	}
	expect(nodes[:1], dnd)
	if after := asks(); after != before {
		t.Errorf("the group asked %d member grains after changes it was sent", after-before)
	}
	expect(nodes, dnd)
	nodes = append(nodes, startTestNode(t, "n3", nodes[0].cn.Membership().LocalAddr()))
	waitTopology(t, nodes, 4)
	applyAll(t, nodes[3:], putGlobal("public"))
	for i := range 6 {
		applyAll(t, nodes[3:], putUser(users[i], false), putLine(fmt.Sprint(100+i), users[i], "primary", nil))
	}
	applyAll(t, nodes[3:], regs...)
	applyAll(t, nodes[3:], putGroup(&dirpb.Group{Id: "desk", Active: true, Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all", SkipBusy: true}}))
	for i, u := range users {
		st := "dnd"
		if dnd[u] {
			st = "available"
		}
		nodes[i%4].setPresence(t, u, u, &actorspb.SetPresence{State: ptr(st)})
		dnd[u] = !dnd[u]
	}
	expect(nodes, dnd)
}
