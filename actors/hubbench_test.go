//go:build !race

// Built without -race only, as bench_test.go: several protoactor-go nodes
// in one process trip the race detector inside the library.

package actors

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// countingSink counts the sessions that received the change in flight
// and notes when the last one did: the in-cluster part of a presence
// change (grain → batch per node → hub → session), without HTTP.
type countingSink struct {
	mu     sync.Mutex
	want   string // state of the change in flight
	left   int
	done   chan struct{}
	wrong  atomic.Int64
	lagged atomic.Int64
}

func (c *countingSink) expect(state string, n int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want, c.left, c.done = state, n, make(chan struct{})
	return c.done
}

func (c *countingSink) Deliver(ev Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.View.GetState() != c.want {
		c.wrong.Add(1)
		return true
	}
	if c.left--; c.left == 0 {
		close(c.done)
	}
	return true
}

func (c *countingSink) End(lagged bool) {
	if lagged {
		c.lagged.Add(1)
	}
}

// benchmarkPresenceThreeNodes: one presence change to n sessions spread
// over three nodes' hubs, through the grain's filter, one batch per node
// (two of them over the wire) and each hub. Reports the time until the
// last session has the change (p50, p99, max) and deliveries per second.
func benchmarkPresenceThreeNodes(b *testing.B, n int) {
	nodes := []*testNode{startTestNode(b, "p0")}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, startTestNode(b, fmt.Sprint("p", i), nodes[0].cn.Membership().LocalAddr()))
	}
	waitTopology(b, nodes, 3)
	for _, node := range nodes {
		node.apply(b, putUser("anna", false), putGlobal("public"))
	}
	sink := &countingSink{}
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				node := nodes[i%len(nodes)]
				s := node.hub.OpenSink(fmt.Sprintf("v%d", i), sink)
				if _, err := node.hub.Watch(reqCtx(b), s, "anna"); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	states := []string{"busy", "available"}
	var lat []time.Duration
	cpu0 := processCPU(b)
	for i := 0; b.Loop(); i++ {
		done := sink.expect(states[i%2], n)
		start := time.Now()
		resp, err := nodes[i%3].cn.Request(reqCtx(b), "anna", KindUser, &actorspb.SetPresence{Actor: "anna", State: &states[i%2]})
		if err != nil || resp.(*actorspb.SetPresenceReply).GetError() != nil {
			b.Fatal(err, resp)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.Fatalf("change %d: not every session got it", i)
		}
		lat = append(lat, time.Since(start))
	}
	cpu := processCPU(b) - cpu0
	if w, l := sink.wrong.Load(), sink.lagged.Load(); w > 0 || l > 0 {
		b.Fatalf("%d events of another change, %d sessions lagged", w, l)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds()/1e6, "Mdeliveries/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms/change")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms/change")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms/change")
	// The CPU of the whole process (three nodes, the sink) per change:
	// steadier than the latencies on a machine shared with other work.
	b.ReportMetric(ms(cpu)/float64(b.N), "cpu-ms/change")
}

// processCPU is this process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkPresenceThreeNodes_10kWatchers(b *testing.B) { benchmarkPresenceThreeNodes(b, 10000) }
