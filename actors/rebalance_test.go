//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// eventually polls check until it returns "" or the deadline passes.
func eventually(t *testing.T, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// Grains that move when a node joins, and when it leaves gracefully, keep
// their runtime state: presence (never written anywhere), ringing calls,
// and watchers, which go on receiving events from the new activation.
func TestRebalance_JoinAndGracefulLeaveKeepRuntimeState(t *testing.T) {
	const users = 30
	nodes := startCluster(t, 2)
	var dir []*dirpb.Command
	dir = append(dir, putGlobal("business"), putUser("watcher", false))
	for i := range users {
		u := fmt.Sprintf("u%02d", i)
		dir = append(dir, putUser(u, false), putLine(fmt.Sprint(100+i), u, "primary", nil))
	}
	applyAll(t, nodes, dir...)
	// want is each user's presence, as set and as the session must see it.
	want := make([]string, users)
	for i := range users {
		st := []string{"away", "busy", "dnd"}[i%3]
		want[i] = st
		if r := nodes[i%2].setPresence(t, fmt.Sprintf("u%02d", i), fmt.Sprintf("u%02d", i), &actorspb.SetPresence{State: &st}); r.GetError() != nil {
			t.Fatal(r.GetError())
		}
		if r := nodes[i%2].lineCall(t, fmt.Sprint(100+i), fmt.Sprint("call-", i), "ringing", "555"); r.GetError() != nil {
			t.Fatal(r.GetError())
		}
	}
	// One session on node 0 watches everyone's presence and lines.
	s := nodes[0].hub.Open("watcher", 4*users)
	for i := range users {
		if v, err := nodes[0].hub.Watch(reqCtx(t), s, fmt.Sprintf("u%02d", i)); err != nil || v.GetState() != want[i] {
			t.Fatalf("watch u%02d: %v %v", i, v, err)
		}
		if v, err := nodes[0].hub.WatchLine(reqCtx(t), s, fmt.Sprint(100+i)); err != nil || v.GetState() != "ringing" {
			t.Fatalf("watch line %d: %v %v", 100+i, v, err)
		}
	}

	checkState := func(via *testNode) func() string {
		return func() string {
			for i := range users {
				u := fmt.Sprintf("u%02d", i)
				if v := via.getPresence(t, "watcher", u).GetView(); v.GetState() != want[i] {
					return fmt.Sprintf("%s's presence is %v, want %s", u, v, want[i])
				}
				resp, err := via.cn.Request(reqCtx(t), fmt.Sprint(100+i), KindLine, &actorspb.GetLineState{Viewer: "watcher"})
				if err != nil {
					return err.Error()
				}
				if v := resp.(*actorspb.GetLineStateReply).GetView(); v.GetState() != "ringing" {
					return fmt.Sprintf("line %d is %v, want ringing", 100+i, v)
				}
				// The node holding the call moves with it (pickup).
				if calls, err := (Client{To: via.cn}).LineCalls(reqCtx(t), fmt.Sprint(100+i)); err != nil || len(calls) != 1 || calls[0].Node != testCallNode {
					return fmt.Sprintf("line %d's calls %+v %v, want one held by %s", 100+i, calls, err, testCallNode)
				}
			}
			return ""
		}
	}
	// Every change is seen by the session: the watchers moved with the
	// grains.
	checkEvents := func(round int, st string) {
		t.Helper()
		for i := range users {
			if r := nodes[1].setPresence(t, fmt.Sprintf("u%02d", i), fmt.Sprintf("u%02d", i), &actorspb.SetPresence{State: &st}); r.GetError() != nil {
				t.Fatal(r.GetError())
			}
		}
		got := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for len(got) < users {
			select {
			case ev := <-s.Events:
				if ev.View != nil && ev.View.GetState() == st {
					got[ev.Target] = true
				}
			case <-deadline:
				t.Fatalf("round %d: the session saw %d of %d presence changes after the grains moved", round, len(got), users)
			}
		}
		for i := range want {
			want[i] = st
		}
	}

	joined := startTestNode(t, "n2", nodes[0].cn.Membership().LocalAddr())
	joined.apply(t, dir...)
	all := append(nodes, joined)
	waitTopology(t, all, 3)
	eventually(t, 10*time.Second, func() string {
		if joined.deps.Count(KindUser) == 0 || joined.deps.Count(KindLine) == 0 {
			return fmt.Sprintf("no grain moved to the new node (%d users, %d lines there)", joined.deps.Count(KindUser), joined.deps.Count(KindLine))
		}
		return ""
	})
	eventually(t, 10*time.Second, checkState(nodes[0]))
	moved := joined.deps.Count(KindUser)
	t.Logf("%d of %d user grains and %d line grains moved to the joining node", moved, users, joined.deps.Count(KindLine))
	checkEvents(0, "available")

	// The joined node leaves gracefully: its grains move back, state intact.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := joined.cn.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitTopology(t, nodes, 2)
	eventually(t, 10*time.Second, checkState(nodes[1]))
	checkEvents(1, "away")
	// The node's metrics show the moves: every user grain it held handed
	// its state over, none failed, and none is active there any more.
	m := joined.deps.Metrics
	if sent := metricValue(m.handovers.WithLabelValues(KindUser, "sent")); sent < float64(moved) {
		t.Errorf("ucgrid_grain_handovers_total{kind=user,outcome=sent} = %v, want >= %d (the user grains that moved back)", sent, moved)
	}
	if failed := metricValue(m.handovers.WithLabelValues(KindUser, "failed")); failed != 0 {
		t.Errorf("ucgrid_grain_handovers_total{kind=user,outcome=failed} = %v, want 0", failed)
	}
	if act, ended := metricValue(m.activations.WithLabelValues(KindUser)), metricValue(m.stops.WithLabelValues(KindUser)); act < float64(moved) || act != ended {
		t.Errorf("user grains on the node that left: %v activations, %v ended; want >= %d and equal", act, ended, moved)
	}
	if active := metricValue(m.active.WithLabelValues(KindUser)); active != 0 {
		t.Errorf("ucgrid_grains_active{kind=user} = %v on the node that left, want 0", active)
	}
}

// After a node fails (no leave, no hand-over), sessions elsewhere that
// watched grains on it re-register with the grains' next activations: the
// changes the sources re-assert reach them.
func TestRebalance_SessionsReRegisterAfterANodeFails(t *testing.T) {
	const users = 30
	nodes := startCluster(t, 3)
	dir := []*dirpb.Command{putGlobal("business"), putUser("watcher", false)}
	for i := range users {
		dir = append(dir, putUser(fmt.Sprintf("u%02d", i), false))
	}
	applyAll(t, nodes, dir...)
	s := nodes[0].hub.Open("watcher", 4*users)
	for i := range users {
		if _, err := nodes[0].hub.Watch(reqCtx(t), s, fmt.Sprintf("u%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	onFailed := 0
	for i := range users {
		if nodes[2].deps.local.get(KindUser, fmt.Sprintf("u%02d", i)) != nil {
			onFailed++
		}
	}
	if onFailed == 0 {
		t.Fatal("no watched grain lives on the node about to fail; the test would prove nothing")
	}
	if err := nodes[2].cn.Membership().Shutdown(); err != nil { // gossip stops without a leave
		t.Fatal(err)
	}
	waitTopology(t, nodes[:2], 2)
	st := "away"
	for i := range users {
		u := fmt.Sprintf("u%02d", i)
		eventually(t, 10*time.Second, func() string {
			if r := nodes[1].setPresence(t, u, u, &actorspb.SetPresence{State: &st}); r.GetError() != nil {
				return r.GetError().String()
			}
			return ""
		})
	}
	got := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(got) < users {
		select {
		case ev := <-s.Events:
			if ev.View.GetState() == "away" {
				got[ev.Target] = true
			}
		case <-deadline:
			t.Fatalf("the session saw %d of %d changes after a node with %d of the grains failed", len(got), users, onFailed)
		}
	}
	t.Logf("%d watched grains were on the failed node; the session sees all %d changes", onFailed, users)
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err) // counters and gauges always write
	}
	return d.GetCounter().GetValue() + d.GetGauge().GetValue()
}
