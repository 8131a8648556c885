package sip

import (
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// delayedGroup puts group id on number with the members in order, each
// with its ring delay in seconds.
func (e *env) delayedGroup(id, number, strategy string, cg *dirpb.CallGroup, members map[string]int32, order ...string) {
	e.t.Helper()
	cg.Mode, cg.Number, cg.Strategy = "sip", number, strategy
	g := &dirpb.Group{Id: id, Name: id, Active: true, CallGroup: cg}
	for _, u := range order {
		g.Members = append(g.Members, &dirpb.Member{User: u, Role: "user", RingDelayS: members[u]})
	}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}})
}

// ring_all with a ring delay: the secretary rings at once, the boss's
// phone gets its INVITE only after the delay while the secretary's still
// rings (no CANCEL), and the boss, answering first, takes the call.
func TestGroup_RingDelayedMemberJoinsWhileTheFirstStillRings(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	alice := registered(t, e, "1001", "a-pw")
	e.user("sec", "2101", "pw")
	e.user("boss", "2102", "pw")
	sec, boss := registered(t, e, "2101", "pw"), registered(t, e, "2102", "pw")
	e.delayedGroup("office", "710", "ring_all", &dirpb.CallGroup{RingTimeoutS: 10},
		map[string]int32{"boss": 1}, "sec", "boss")

	start := time.Now()
	c := alice.call("710")
	sec.waitRinging(5 * time.Second)
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("the secretary rang %v after the call, want at once", d)
	}
	rb := boss.waitRinging(5 * time.Second)
	if d := time.Since(start); d < time.Second {
		t.Errorf("the boss rang %v after the call, before their 1s ring delay", d)
	}
	if n := sec.cancelCount(); n != 0 {
		t.Fatalf("the secretary's phone got %d CANCELs when the boss joined, want it still ringing", n)
	}
	rb.answer <- 200
	c.wait(200, 5*time.Second)
	eventually(t, 5*time.Second, "CANCEL to the secretary", func() bool { return sec.cancelCount() == 1 })
	if got := sec.lastCancelReason(); got != completedElsewhere {
		t.Errorf("secretary's CANCEL Reason %q", got)
	}
	c.ackAndBye(true)
	want := []string{"offered:sec", "offered:boss", "answered:boss", "ended:boss"}
	for deadline := time.Now().Add(5 * time.Second); ; {
		got := e.be.groupKinds("office")
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group events %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// A member's ring delay holds their turn back even when every member
// before them refused at once; without a delay the next member rings at
// once after a refusal, as before.
func TestGroup_RingDelayHoldsTheTurnWhenTheFirstRefuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		delay    int32
		min, max time.Duration
	}{
		{name: "delayed", delay: 1, min: time.Second, max: 3 * time.Second},
		{name: "no delay", delay: 0, min: 0, max: 800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("alice", "1001", "a-pw")
			alice := registered(t, e, "1001", "a-pw")
			e.user("m1", "2101", "pw")
			e.user("m2", "2102", "pw")
			p1, p2 := registered(t, e, "2101", "pw"), registered(t, e, "2102", "pw")
			p1.setMode(486)
			e.delayedGroup("desk", "711", "sequential", &dirpb.CallGroup{RingTimeoutS: 10, MemberTimeoutS: 5},
				map[string]int32{"m2": tc.delay}, "m1", "m2")
			start := time.Now()
			c := alice.call("711")
			r2 := p2.waitRinging(5 * time.Second)
			if d := time.Since(start); d < tc.min || d > tc.max {
				t.Errorf("m2 rang %v after the call, want between %v and %v", d, tc.min, tc.max)
			}
			r2.answer <- 200
			c.wait(200, 5*time.Second)
			c.ackAndBye(true)
		})
	}
}
