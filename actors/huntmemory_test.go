//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func (n *testNode) groupEvent(t *testing.T, group, kind, user string) {
	t.Helper()
	resp, err := n.cn.Request(reqCtx(t), group, KindGroup, &actorspb.GroupCallEvent{Kind: kind, User: user})
	if err != nil || resp.(*actorspb.GroupCallEventReply).GetError() != nil {
		t.Fatalf("%s %s to %s: %v %v", kind, user, group, resp, err)
	}
}

// stopWithoutHandover stops group's grain as a crash of its node would:
// nothing is handed over to the next activation.
func (n *testNode) stopWithoutHandover(t *testing.T, group string) {
	t.Helper()
	n.deps.SkipHandovers()
	pid := n.deps.local.get(KindGroup, group)
	if pid == nil {
		t.Fatalf("group %s has no grain here", group)
	}
	n.cn.Cluster().ActorSystem.Root.Poison(pid)
	deadline := time.Now().Add(5 * time.Second)
	for n.deps.local.get(KindGroup, group) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("group %s's grain did not stop", group)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// waitStored polls until group's stored hunt memory satisfies ok.
func waitStored(t *testing.T, n *testNode, group string, ok func(*dirpb.HuntMemory) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := n.deps.Store.HuntMemory(group)
		if err == nil && ok(m) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored memory of %s: %v %v", group, m, err)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// A round_robin group's grain stores its memory through the directory:
// stopped without a hand-over (as its node's crash would), its next
// activation continues the sequence, and the newest state of a burst is
// the one stored; a longest_idle group's grain likewise. A ring_all group
// stores nothing.
func TestGroupGrain_ReactivatedWithoutHandoverContinuesFromStoredMemory(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putGlobal("public"))
	var members []*dirpb.Member
	for i, u := range []string{"anna", "ben", "carl", "dora"} {
		n.apply(t, putUser(u, false), putLine(fmt.Sprint(100+i), u, "primary", nil))
		n.register(t, fmt.Sprint(100+i))
		members = append(members, &dirpb.Member{User: u})
	}
	n.apply(t, putGroup(&dirpb.Group{Id: "desk", Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "round_robin"}}))
	n.apply(t, putGroup(&dirpb.Group{Id: "all", Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "701", Strategy: "ring_all"}}))
	first := func() string {
		t.Helper()
		return n.ringPlan(t, "desk").GetStages()[0].GetMembers()[0]
	}
	for _, want := range []string{"anna", "ben"} {
		if got := first(); got != want {
			t.Fatalf("round robin offers %s first, want %s", got, want)
		}
		n.groupEvent(t, "desk", "offered", want)
		n.groupEvent(t, "desk", "answered", want)
	}
	// The writes go aside: wait until the last one is stored.
	waitStored(t, n, "desk", func(m *dirpb.HuntMemory) bool {
		return m.GetRoundRobinLast() == "ben" && len(m.GetLastCallUnixMs()) == 2
	})

	n.stopWithoutHandover(t, "desk")
	if got := first(); got != "carl" {
		t.Errorf("after the grain's restart round robin offers %s first, want carl", got)
	}

	// A burst of events: whatever the writes in flight, the newest state
	// is the one stored.
	for i := range 20 {
		n.groupEvent(t, "desk", "offered", members[i%4].GetUser())
	}
	n.groupEvent(t, "desk", "offered", "dora")
	waitStored(t, n, "desk", func(m *dirpb.HuntMemory) bool { return m.GetRoundRobinLast() == "dora" })

	// longest_idle: who answered last is not first after a restart.
	n.apply(t, putGroup(&dirpb.Group{Id: "idle", Members: members,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "702", Strategy: "longest_idle"}}))
	if got := n.ringPlan(t, "idle").GetStages()[0].GetMembers()[0]; got != "anna" {
		t.Fatalf("longest_idle offers %s first, want anna (configured order)", got)
	}
	n.groupEvent(t, "idle", "answered", "anna")
	n.groupEvent(t, "idle", "ended", "anna")
	waitStored(t, n, "idle", func(m *dirpb.HuntMemory) bool { return m.GetLastCallUnixMs()["anna"] != 0 })
	n.stopWithoutHandover(t, "idle")
	if got := n.ringPlan(t, "idle").GetStages()[0].GetMembers()[0]; got != "ben" {
		t.Errorf("after the grain's restart longest_idle offers %s first, want ben (anna just took a call)", got)
	}

	before := n.dir.Applied()
	n.ringPlan(t, "all")
	n.groupEvent(t, "all", "offered", "anna")
	n.groupEvent(t, "all", "answered", "anna")
	if _, err := n.deps.Store.HuntMemory("all"); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("a ring_all group stored hunt memory: %v", err)
	}
	if after := n.dir.Applied(); after != before {
		t.Errorf("a ring_all call wrote to the directory: index %d → %d", before, after)
	}
}
