package sip

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

const completedElsewhere = `SIP;cause=200;text="Call completed elsewhere"`

// registered returns a phone of line number, registered.
func registered(t *testing.T, e *env, number, pw string) *phone {
	t.Helper()
	p := newPhone(t, e, number, pw)
	if res := p.register(300); res.StatusCode != 200 {
		t.Fatalf("register %s: %d", number, res.StatusCode)
	}
	return p
}

func TestCall_ForksToEveryContactFirstAnswerWinsOthersCancelled(t *testing.T) {
	e := newEnv(t)
	base := runtime.NumGoroutine()
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	desk, soft := registered(t, e, "2001", "b-pw"), registered(t, e, "2001", "b-pw")

	call := alice.call("2001")
	r1, r2 := desk.waitRinging(5*time.Second), soft.waitRinging(5*time.Second)
	call.wait(180, 5*time.Second)
	if rr := r1.req.GetHeader("Record-Route"); rr == nil || !strings.Contains(rr.Value(), ";lr") {
		t.Fatalf("forwarded INVITE without our Record-Route: %v", rr)
	}
	r1.answer <- 200
	call.wait(200, 5*time.Second)
	eventually(t, 5*time.Second, "the other branch is cancelled", func() bool { return soft.cancelCount() == 1 })
	if got := soft.lastCancelReason(); got != completedElsewhere {
		t.Errorf("CANCEL Reason = %q, want %q", got, completedElsewhere)
	}
	_ = r2
	call.ackAndBye(true)
	eventually(t, 5*time.Second, "ACK and BYE pass through", func() bool { byes, acks := desk.counts(); return byes == 1 && acks >= 1 })
	eventually(t, 5*time.Second, "line reports", func() bool {
		return slices.Equal(e.be.phases("2001"), []linestate.Phase{linestate.PhaseRinging, linestate.PhaseAnswered, linestate.PhaseEnded})
	})
	noLeaks(t, e, base+goroutinesOfPhones)
}

// goroutinesOfPhones is the slack for the phones' own sipgo goroutines
// (listeners, idle connections) started after the baseline was taken.
const goroutinesOfPhones = 12

func TestCall_InviteWithoutCredentialsIsChallengedAndWrongOnesRefused(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	registered(t, e, "2001", "b-pw")
	anon := newPhone(t, e, "1001", "")
	c := anon.call("2001")
	if r := c.next(c.tx, 5*time.Second); r == nil {
		// call() already consumed the 407 into c.res
	}
	select {
	case r := <-c.res:
		if r.StatusCode != 407 || r.GetHeader("Proxy-Authenticate") == nil {
			t.Fatalf("INVITE without credentials: %d, want 407 with a challenge", r.StatusCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to an unauthenticated INVITE")
	}
	bad := newPhone(t, e, "1001", "wrong")
	bad.call("2001").wait(403, 5*time.Second)
}

func TestCall_TrunkSourceCallsWithoutAuth(t *testing.T) {
	e := newEnv(t)
	e.user("bob", "2001", "b-pw")
	bob := registered(t, e, "2001", "b-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier", Addresses: []string{"127.0.0.1/32"}}}}})
	pstn := newPhone(t, e, "+4930123", "")
	c := pstn.call("2001")
	bob.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)
}

// A trunk range too wide for persistence.CheckTrunkPrefix (stored before
// the rule, or through a node run with --allow-wide-trunks) lets nobody
// call without authentication, and is logged once per trunk and range,
// not per call; the trunk's narrow ranges still count. A node that
// itself allows wide trunks honours it.
func TestCall_WideTrunkIgnoredUnlessAllowed(t *testing.T) {
	wide := &dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "legacy",
		Addresses: []string{"127.0.0.0/8", "0.0.0.0/0"}}}}}
	t.Run("refused", func(t *testing.T) {
		logs := &testlog.Buffer{}
		e := newEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
		e.user("bob", "2001", "b-pw")
		bob := registered(t, e, "2001", "b-pw")
		e.apply(wide)
		pstn := newPhone(t, e, "+4930123", "")
		for range 3 {
			pstn.call("2001").wait(407, 5*time.Second)
		}
		if got := len(bob.incoming); got != 0 {
			t.Fatalf("bob's phone rang %d times for calls from a too-wide trunk", got)
		}
		for _, r := range []string{"127.0.0.0/8", "0.0.0.0/0"} {
			if n := strings.Count(logs.String(), "range="+r); n != 1 {
				t.Errorf("%d log lines for trunk range %s over 3 calls, want 1:\n%s", n, r, logs.String())
			}
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "trunk=legacy") {
			t.Errorf("want a WARN naming the trunk:\n%s", logs.String())
		}
		// A narrow range of the same trunk still lets the carrier in.
		e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "legacy",
			Addresses: []string{"0.0.0.0/0", "127.0.0.1/32"}}}}})
		c := pstn.call("2001")
		bob.waitRinging(5 * time.Second).answer <- 200
		c.wait(200, 5*time.Second)
		c.ackAndBye(true)
	})
	t.Run("allowed", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.AllowWideTrunks = true })
		e.user("bob", "2001", "b-pw")
		bob := registered(t, e, "2001", "b-pw")
		e.apply(wide)
		c := newPhone(t, e, "+4930123", "").call("2001")
		bob.waitRinging(5 * time.Second).answer <- 200
		c.wait(200, 5*time.Second)
		c.ackAndBye(true)
	})
}

func TestCall_CallerCancelCancelsAllBranches(t *testing.T) {
	e := newEnv(t)
	base := runtime.NumGoroutine()
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	desk, soft := registered(t, e, "2001", "b-pw"), registered(t, e, "2001", "b-pw")
	c := alice.call("2001")
	desk.waitRinging(5 * time.Second)
	soft.waitRinging(5 * time.Second)
	c.wait(180, 5*time.Second)
	c.cancel()
	c.wait(487, 5*time.Second)
	eventually(t, 5*time.Second, "both branches cancelled", func() bool { return desk.cancelCount() == 1 && soft.cancelCount() == 1 })
	eventually(t, 5*time.Second, "line reports", func() bool {
		return slices.Equal(e.be.phases("2001"), []linestate.Phase{linestate.PhaseRinging, linestate.PhaseEnded})
	})
	noLeaks(t, e, base+goroutinesOfPhones)
}

func TestCall_UnregisteredLineIs480AndUnknownNumber404(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	alice.call("2001").wait(480, 5*time.Second)
	alice.call("9999").wait(404, 5*time.Second)
}

func TestCall_Forwarding(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("carol", "3001", "c-pw")
	alice := registered(t, e, "1001", "a-pw")
	carol := registered(t, e, "3001", "c-pw")
	for _, id := range []string{"bob", "bob2", "bob3"} {
		e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id}}}})
	}

	t.Run("unconditional", func(t *testing.T) {
		e.line("bob", "2001", "primary", "b-pw", &dirpb.Forwarding{Enabled: true, Destination: "3001"})
		registered(t, e, "2001", "b-pw")
		c := alice.call("2001")
		carol.waitRinging(5 * time.Second).answer <- 200
		c.wait(200, 5*time.Second)
		c.ackAndBye(true)
	})
	t.Run("on busy", func(t *testing.T) {
		e.line("bob2", "2002", "primary", "b-pw", &dirpb.Forwarding{OnBusy: "3001"})
		bob := registered(t, e, "2002", "b-pw")
		bob.setMode(486)
		c := alice.call("2002")
		carol.waitRinging(5 * time.Second).answer <- 200
		c.wait(200, 5*time.Second)
		c.ackAndBye(true)
	})
	t.Run("on no answer", func(t *testing.T) {
		e.line("bob3", "2003", "primary", "b-pw", &dirpb.Forwarding{OnNoAnswer: "3001", NoAnswerTimeoutS: 1})
		bob := registered(t, e, "2003", "b-pw")
		c := alice.call("2003")
		bob.waitRinging(5 * time.Second)
		carol.waitRinging(5 * time.Second).answer <- 200
		c.wait(200, 5*time.Second)
		// The CANCEL to the unanswered phone travels on its own: poll.
		deadline := time.Now().Add(5 * time.Second)
		for bob.cancelCount() != 1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling interval
		}
		if n := bob.cancelCount(); n != 1 {
			t.Errorf("the unanswered phone got %d CANCELs, want 1", n)
		}
		c.ackAndBye(true)
	})
}

func TestGroup_RingAllOneAnswersOthersCancelled(t *testing.T) {
	e := newEnv(t)
	base := runtime.NumGoroutine()
	e.user("alice", "1001", "a-pw")
	alice := registered(t, e, "1001", "a-pw")
	var members []*phone
	for _, m := range []struct{ id, number string }{{"m1", "2101"}, {"m2", "2102"}, {"m3", "2103"}} {
		e.user(m.id, m.number, "pw")
		members = append(members, registered(t, e, m.number, "pw"))
	}
	e.group("sales", "700", "ring_all", []string{"m1", "m2", "m3"}, nil)

	c := alice.call("700")
	rs := make([]*ringing, 3)
	for i, m := range members {
		rs[i] = m.waitRinging(5 * time.Second)
	}
	c.wait(180, 5*time.Second)
	rs[1].answer <- 200
	c.wait(200, 5*time.Second)
	for _, i := range []int{0, 2} {
		p := members[i]
		eventually(t, 5*time.Second, "CANCEL to "+p.number, func() bool { return p.cancelCount() == 1 })
		if got := p.lastCancelReason(); got != completedElsewhere {
			t.Errorf("%s: CANCEL Reason %q", p.number, got)
		}
	}
	c.ackAndBye(true)
	eventually(t, 5*time.Second, "group events", func() bool {
		got := e.be.groupKinds("sales")
		return len(got) == 5 && got[3] == "answered:m2" && got[4] == "ended:m2"
	})
	eventually(t, 5*time.Second, "answered line reports", func() bool {
		return slices.Equal(e.be.phases("2102"), []linestate.Phase{linestate.PhaseRinging, linestate.PhaseAnswered, linestate.PhaseEnded})
	})
	if got := e.be.phases("2101"); !slices.Equal(got, []linestate.Phase{linestate.PhaseRinging, linestate.PhaseEnded}) {
		t.Errorf("line 2101 phases %v", got)
	}
	noLeaks(t, e, base+goroutinesOfPhones*2)
}

func TestGroup_ForksToThePlansContactsWithoutAskingTheLinesAgain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noTargets bool
		wantAsks  int // Backend.Contacts calls during the call
	}{
		{name: "plan carries the targets", wantAsks: 0},
		{name: "plan without targets: looked up per member", noTargets: true, wantAsks: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.be.noTargets = tc.noTargets
			e.user("alice", "1001", "a-pw")
			alice := registered(t, e, "1001", "a-pw")
			var members []*phone
			for _, m := range []struct{ id, number string }{{"m1", "2101"}, {"m2", "2102"}, {"m3", "2103"}} {
				e.user(m.id, m.number, "pw")
				members = append(members, registered(t, e, m.number, "pw"))
			}
			e.group("sales", "700", "ring_all", []string{"m1", "m2", "m3"}, nil)

			before := e.be.contactAsksSoFar()
			c := alice.call("700")
			rs := make([]*ringing, len(members))
			for i, m := range members {
				rs[i] = m.waitRinging(5 * time.Second)
			}
			c.wait(180, 5*time.Second)
			if got := e.be.contactAsksSoFar() - before; got != tc.wantAsks {
				t.Errorf("Backend.Contacts asked %d times for the call, want %d", got, tc.wantAsks)
			}
			rs[0].answer <- 200
			c.wait(200, 5*time.Second)
			c.ackAndBye(true)
		})
	}
}

func TestGroup_MemberWithoutTargetInThePlanIsNotRung(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	alice := registered(t, e, "1001", "a-pw")
	e.user("m1", "2101", "pw")
	e.user("m2", "2102", "pw")
	p1, p2 := registered(t, e, "2101", "pw"), registered(t, e, "2102", "pw")
	e.group("sales", "700", "ring_all", []string{"m1", "m2"}, nil)
	e.be.mu.Lock()
	e.be.dropTarget = "m2" // the grain saw no contact for m2's line
	e.be.mu.Unlock()

	c := alice.call("700")
	p1.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)
	select {
	case <-p2.incoming:
		t.Error("m2 rang without a target in the plan")
	default:
	}
}

func TestGroup_SequentialMovesOnAfterMemberTimeout(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	alice := registered(t, e, "1001", "a-pw")
	e.user("m1", "2101", "pw")
	e.user("m2", "2102", "pw")
	p1, p2 := registered(t, e, "2101", "pw"), registered(t, e, "2102", "pw")
	e.group("support", "701", "sequential", []string{"m1", "m2"}, func(cg *dirpb.CallGroup) {
		cg.MemberTimeoutS, cg.RingTimeoutS = 1, 10
	})
	start := time.Now()
	c := alice.call("701")
	p1.waitRinging(5 * time.Second)
	r2 := p2.waitRinging(5 * time.Second)
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("second member rang after %v, before the first one's timeout", waited)
	}
	// The CANCEL to the first member and the INVITE to the second leave
	// together; either may arrive first.
	eventually(t, 5*time.Second, "first member cancelled at its timeout", func() bool { return p1.cancelCount() == 1 })
	r2.answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)
}

func TestGroup_NoAnswerGoesToTargetOr480(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	alice := registered(t, e, "1001", "a-pw")
	e.user("m1", "2101", "pw")
	e.user("op", "3001", "pw")
	p1, op := registered(t, e, "2101", "pw"), registered(t, e, "3001", "pw")
	e.group("g480", "702", "ring_all", []string{"m1"}, func(cg *dirpb.CallGroup) { cg.RingTimeoutS = 1 })
	e.group("gfwd", "703", "ring_all", []string{"m1"}, func(cg *dirpb.CallGroup) { cg.RingTimeoutS = 1; cg.NoAnswerTarget = "3001" })

	alice.call("702").wait(480, 5*time.Second)
	eventually(t, 5*time.Second, "member cancelled", func() bool { return p1.cancelCount() == 1 })

	c := alice.call("703")
	op.waitRinging(5 * time.Second).answer <- 200
	c.wait(200, 5*time.Second)
	c.ackAndBye(true)

	e.be.mu.Lock()
	e.be.closed["g480"] = true
	e.be.mu.Unlock()
	alice.call("702").wait(480, 5*time.Second)
}

func TestPickup_DirectedNeedsThePickupRight(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("eve", "4001", "e-pw")
	alice := registered(t, e, "1001", "a-pw")
	registered(t, e, "2001", "b-pw")
	eve := registered(t, e, "4001", "e-pw")
	c := alice.call("2001")
	c.wait(180, 5*time.Second)
	// public level (the default) does not give line1_pickup
	eve.call("**2001").wait(403, 5*time.Second)
	eve.call("*8").wait(403, 5*time.Second)
	c.cancel()
	c.wait(487, 5*time.Second)
	eve.call("**2001").wait(404, 5*time.Second)
}

func TestPickup_WithRightReplacesTheRingingCall(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("tim", "5001", "t-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "bob", Viewer: "tim", Grant: &dirpb.Grant{Level: "team"}}}})
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	tim := registered(t, e, "5001", "t-pw")
	c := alice.call("2001")
	bob.waitRinging(5 * time.Second)
	c.wait(180, 5*time.Second)

	pick := tim.call("*8")
	// The caller's phone gets the picker's INVITE with Replaces.
	r := alice.waitRinging(5 * time.Second)
	repl := r.req.GetHeader("Replaces")
	if repl == nil || !strings.HasPrefix(repl.Value(), c.req.CallID().Value()+";") {
		t.Fatalf("INVITE to the caller: Replaces = %v", repl)
	}
	r.answer <- 200
	pick.wait(200, 5*time.Second)
	eventually(t, 5*time.Second, "ringing phone cancelled", func() bool { return bob.cancelCount() == 1 })
	if got := bob.lastCancelReason(); got != completedElsewhere {
		t.Errorf("CANCEL reason %q", got)
	}
	pick.ackAndBye(true)
	c.wait(487, 5*time.Second) // the replaced call ends
	eventually(t, 5*time.Second, "line reports", func() bool {
		return slices.Equal(e.be.phases("2001"), []linestate.Phase{linestate.PhaseRinging, linestate.PhaseEnded})
	})
}

var _ = sip.StatusOK

// A phone that goes away while ringing answers neither the CANCEL nor
// the INVITE. Its branch is given up 64*T1 after the CANCEL (RFC 3261
// §9.1; shortened here), and a shutdown waits only shutdownGrace for it.
func TestCall_PhoneGoneWhileRingingHoldsNeitherTheCallNorTheShutdown(t *testing.T) {
	defer func(d time.Duration) { cancelGiveUp = d }(cancelGiveUp)
	cancelGiveUp = 300 * time.Millisecond
	for _, tc := range []struct {
		name     string
		shutdown bool
	}{
		{name: "caller cancels"},
		{name: "node shuts down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("alice", "1001", "a-pw")
			e.user("bob", "2001", "b-pw")
			alice := registered(t, e, "1001", "a-pw")
			bob := registered(t, e, "2001", "b-pw")
			c := alice.call("2001")
			bob.waitRinging(5 * time.Second)
			c.wait(180, 5*time.Second)
			_ = bob.ua.Close() // unplugged: nothing answers on its port any more
			if tc.shutdown {
				ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace+2*time.Second)
				defer cancel()
				if err := e.srv.Shutdown(ctx); err != nil {
					t.Fatalf("shutdown with a vanished phone ringing: %v", err)
				}
				return
			}
			c.cancel()
			c.wait(487, 5*time.Second)
			eventually(t, 5*time.Second, "line reports the call ended", func() bool {
				return slices.Equal(e.be.phases("2001"), []linestate.Phase{linestate.PhaseRinging, linestate.PhaseEnded})
			})
			eventually(t, 5*time.Second, "branch given up", func() bool { return e.srv.calls.len() == 0 })
		})
	}
}
