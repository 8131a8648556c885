//go:build !race

// Built without -race only: a protoactor-go cluster node in this process
// trips the race detector inside the library (disthash reads its rendezvous
// table unlocked while a topology update replaces it; PITFALLS.md, upstream
// #1108). The Makefile runs these tests in its non-race pass.

package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
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
			deliveries += len(batch.Deliveries)
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
