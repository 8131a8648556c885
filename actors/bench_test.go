//go:build !race

// Built without -race only: a protoactor-go cluster node in this process
// trips the race detector inside the library (disthash reads its rendezvous
// table unlocked while a topology update replaces it; PITFALLS.md, upstream
// #1108). The Makefile runs these tests in its non-race pass.

package actors

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A rights check answered from a user grain's cache, as every presence
// read, watch and fan-out does.
func BenchmarkUserGrain_CachedRightsCheck(b *testing.B) {
	g := &userGrain{dir: dirState{loaded: true}}
	g.rights.reset(nil)
	viewers := make([]string, 1000)
	for i := range viewers {
		viewers[i] = fmt.Sprintf("user-%d", i)
		g.rights.cache[viewers[i]] = rights.LevelSet(rights.Level(i % rights.NumLevels))
	}
	var acc rights.Set
	i := 0
	for b.Loop() {
		acc |= g.rightsOf(viewers[i%len(viewers)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mchecks/s")
	if acc == 0 {
		b.Fatal("no rights")
	}
}

// fanOut over many watchers spread over three hubs (nodes), with rights
// from the cache: the filtering work of one presence change.
func benchmarkFanOut(b *testing.B, n int) {
	ws := watchers{}
	cache := map[string]rights.Set{}
	for i := range n {
		viewer := fmt.Sprintf("v%d", i)
		cache[viewer] = rights.LevelSet(rights.Level(1 + i%4)) // public..personal: all see it
		ws.add(hubRef{address: fmt.Sprintf("node%d", i%3), id: HubName}, fmt.Sprintf("s%d", i), viewer)
	}
	rightsOf := func(w *watcher) rights.Set { return cache[w.viewer] }
	states := []presence.State{presence.Available, presence.Busy}
	deliveries := 0
	for i := 0; b.Loop(); i++ {
		for _, batch := range fanOut(ws, presence.Presence{State: states[i%2], Note: "n"}, true, rightsOf) {
			for _, g := range batch.Groups {
				for list := g.Sessions; len(list) > 0; deliveries++ {
					_, list, _ = nextSessionID(list) // fanOut writes well-formed lists
				}
			}
		}
	}
	b.ReportMetric(float64(deliveries)/b.Elapsed().Seconds()/1e6, "Mdeliveries/s")
}

func BenchmarkFanOut_1kWatchers(b *testing.B)  { benchmarkFanOut(b, 1000) }
func BenchmarkFanOut_10kWatchers(b *testing.B) { benchmarkFanOut(b, 10000) }

// One presence change through a real node to n sessions on its hub: the
// grain filters per watcher, sends one batch, the hub hands the events to
// the sessions. Reports filtered deliveries per second and the time until
// the last watcher has the change.
func benchmarkPresenceEndToEnd(b *testing.B, n int) {
	node := startTestNode(b, "bench")
	node.apply(b, putUser("anna", false), putGlobal("public"))
	sessions := make([]*Session, n)
	for i := range sessions {
		sessions[i] = node.hub.Open(fmt.Sprintf("v%d", i), 4)
		if _, err := node.hub.Watch(reqCtx(b), sessions[i], "anna"); err != nil {
			b.Fatal(err)
		}
	}
	states := []string{"available", "busy"}
	var worst time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		resp, err := node.cn.Request(reqCtx(b), "anna", KindUser, &actorspb.SetPresence{Actor: "anna", State: &states[i%2]})
		if err != nil || resp.(*actorspb.SetPresenceReply).GetError() != nil {
			b.Fatal(err, resp)
		}
		for _, s := range sessions {
			if ev := <-s.Events; ev.View.GetState() != states[i%2] {
				b.Fatalf("got %v", ev)
			}
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds()/1e6, "Mdeliveries/s")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms/change")
}

func BenchmarkPresenceEndToEnd_1kWatchers(b *testing.B)  { benchmarkPresenceEndToEnd(b, 1000) }
func BenchmarkPresenceEndToEnd_10kWatchers(b *testing.B) { benchmarkPresenceEndToEnd(b, 10000) }

// echoActor answers CheckRights like a grain with a cached answer, without
// the cluster: the baseline of a raw protoactor-go request.
func echoActor(ctx actor.Context) {
	if _, ok := ctx.Message().(*actorspb.CheckRights); ok {
		ctx.Respond(&actorspb.CheckRightsReply{Set: 1})
	}
}

// benchmarkRoundTrip measures a grain request (Node.Request: identity
// lookup from the PID cache, our retry wrapper, the grain's cached rights
// check) against a raw RequestFuture to a plain actor on the same node as
// the grain, in the same run.
func benchmarkRoundTrip(b *testing.B, remote bool) {
	nodes := []*testNode{startTestNode(b, "b0")}
	if remote {
		nodes = append(nodes, startTestNode(b, "b1", nodes[0].cn.Membership().LocalAddr()))
		waitTopology(b, nodes, 2)
	}
	caller, host := nodes[0], nodes[len(nodes)-1]
	var cmds []*dirpb.Command
	for i := range 64 {
		cmds = append(cmds, putUser(fmt.Sprint("u", i), false))
	}
	for _, n := range nodes {
		n.apply(b, cmds...)
	}
	// A user whose grain lives on host.
	target := ""
	for i := 0; target == "" && i < 64; i++ {
		id := fmt.Sprint("u", i)
		if _, err := caller.cn.Request(reqCtx(b), id, KindUser, &actorspb.CheckRights{Viewer: id}); err != nil {
			b.Fatal(err)
		}
		if host.deps.local.get(KindUser, id) != nil {
			target = id
		}
	}
	if target == "" {
		b.Fatal("no grain on the host node")
	}
	echo := host.cn.Cluster().ActorSystem.Root.Spawn(actor.PropsFromFunc(echoActor))
	msg := &actorspb.CheckRights{Viewer: target}
	ctx := context.Background()
	b.Run("grain", func(b *testing.B) {
		for b.Loop() {
			if _, err := caller.cn.Request(ctx, target, KindUser, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		root := caller.cn.Cluster().ActorSystem.Root
		for b.Loop() {
			if _, err := root.RequestFuture(echo, msg, 5*time.Second).Result(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRoundTrip_Local(b *testing.B)     { benchmarkRoundTrip(b, false) }
func BenchmarkRoundTrip_CrossNode(b *testing.B) { benchmarkRoundTrip(b, true) }

// benchmarkRevocation measures the time from a revoking directory write
// (acknowledged by Raft on every node's directory) until a watcher on
// every node has received "not visible": the bound the rights model
// promises (≤ 10 ms on one node, ≤ 50 ms across three).
func benchmarkRevocation(b *testing.B, n int) {
	nodes := []*testNode{startTestNode(b, "r0")}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startTestNode(b, fmt.Sprint("r", i), nodes[0].cn.Membership().LocalAddr()))
	}
	waitTopology(b, nodes, n)
	apply := func(cmds ...*dirpb.Command) {
		for _, node := range nodes {
			node.apply(b, cmds...)
		}
	}
	apply(putUser("anna", false), putUser("ben", false), putGlobal("blocked"))
	st := "busy"
	if _, err := nodes[0].cn.Request(reqCtx(b), "anna", KindUser, &actorspb.SetPresence{Actor: "anna", State: &st}); err != nil {
		b.Fatal(err)
	}
	var sessions []*Session
	for _, node := range nodes {
		s := node.hub.Open("ben", 16)
		if _, err := node.hub.Watch(reqCtx(b), s, "anna"); err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	await := func(visible bool) {
		for _, s := range sessions {
			select {
			case ev := <-s.Events:
				if ev.View.GetVisible() != visible {
					b.Fatalf("got %v, want visible=%v", ev.View, visible)
				}
			case <-time.After(5 * time.Second):
				b.Fatal("no event")
			}
		}
	}
	var lat []time.Duration
	for b.Loop() {
		apply(putGrant("anna", "ben", "team"))
		await(true)
		// The revocation counts from the moment every node's directory
		// has acknowledged it (the last Apply returned).
		for _, node := range nodes[1:] {
			node.apply(b, deleteGrant("anna", "ben"))
		}
		nodes[0].apply(b, deleteGrant("anna", "ben"))
		start := time.Now()
		await(false)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

func BenchmarkRevocation_OneNode(b *testing.B)    { benchmarkRevocation(b, 1) }
func BenchmarkRevocation_ThreeNodes(b *testing.B) { benchmarkRevocation(b, 3) }
