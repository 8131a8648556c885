package sip

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The tests of this file run two servers on one directory and one
// Backend, with the same flow key: two nodes of a cluster, as far as the
// SIP layer can tell (the Backend plays the line grains, answering
// LineCalls from every node's reports). node/pickup_test.go runs the
// same over real nodes and grains.

var testFlowKey = []byte("0123456789abcdef0123456789abcdef")

func withFlowKey(c *Config) { c.FlowKey = testFlowKey }

// peer starts another server on e's directory and Backend with config
// changed by tweak: another node of e's cluster.
func (e *env) peer(tweak ...func(*Config)) *Server {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Addr: "127.0.0.1:0", Domain: testDomain, Store: e.be.store(), Backend: e.be,
		Logger: testLogger(e.t), Registerer: prometheus.NewRegistry()}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := Start(ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			e.t.Error(err)
		}
	})
	return srv
}

// registeredAt is a phone registered through the server at proxy.
func registeredAt(t *testing.T, proxy, number, pw string) *phone {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := newPhoneWith(t, pc, proxy, "", number, pw)
	if res := p.register(300); res.StatusCode != 200 {
		t.Fatalf("register %s through %s: %d", number, proxy, res.StatusCode)
	}
	return p
}

// twoNodes: alice (1001) calls bob (2001) through node 1; tim (5001,
// team level over bob: line1_pickup) and eve (4001, public level: no
// pickup right) use node 2.
type twoNodes struct {
	e                    *env
	n2                   *Server
	alice, bob, tim, eve *phone
}

func newTwoNodes(t *testing.T, tweak ...func(*Config)) *twoNodes {
	e := newEnv(t, append([]func(*Config){withFlowKey}, tweak...)...)
	n2 := e.peer(append([]func(*Config){withFlowKey}, tweak...)...)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("tim", "5001", "t-pw")
	e.user("eve", "4001", "e-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "bob", Viewer: "tim", Grant: &dirpb.Grant{Level: "team"}}}})
	return &twoNodes{e: e, n2: n2,
		alice: registered(t, e, "1001", "a-pw"), bob: registered(t, e, "2001", "b-pw"),
		tim: registeredAt(t, n2.Addr(), "5001", "t-pw"), eve: registeredAt(t, n2.Addr(), "4001", "e-pw")}
}

// ringBob has alice call bob through node 1 and waits until bob's phone
// rings and his line knows it.
func (n *twoNodes) ringBob(t *testing.T) (*outCall, *ringing) {
	t.Helper()
	c := n.alice.call("2001")
	r := n.bob.waitRinging(5 * time.Second)
	c.wait(180, 5*time.Second)
	eventually(t, 5*time.Second, "bob's line rings", func() bool {
		return slices.Equal(n.e.be.phases("2001"), []linestate.Phase{linestate.PhaseRinging})
	})
	return c, r
}

// pickedUp checks the pickup went through node 1 to alice's phone as an
// INVITE with Replaces naming her call, answers it, and checks the
// picker is connected through both nodes and bob's phone was cancelled.
func (n *twoNodes) pickedUp(t *testing.T, c, pick *outCall) {
	t.Helper()
	r := n.alice.waitRinging(5 * time.Second)
	repl := r.req.GetHeader("Replaces")
	if repl == nil || !strings.HasPrefix(repl.Value(), c.req.CallID().Value()+";") {
		t.Fatalf("INVITE to the caller: Replaces = %v", repl)
	}
	if h := r.req.GetHeader(pickupHeader); h != nil {
		t.Fatalf("the pickup grant reached a phone: %v", h)
	}
	r.answer <- 200
	ok := pick.wait(200, 5*time.Second)
	if rr := ok.GetHeaders("Record-Route"); len(rr) < 2 {
		t.Fatalf("Record-Route %v: want both nodes in the dialog", rr)
	}
	eventually(t, 5*time.Second, "bob's phone cancelled", func() bool { return n.bob.cancelCount() == 1 })
	if got := n.bob.lastCancelReason(); got != completedElsewhere {
		t.Errorf("CANCEL reason %q", got)
	}
	pick.ackAndBye(true) // ACK and BYE along node 2, node 1
	eventually(t, 5*time.Second, "alice's phone hung up", func() bool { byes, _ := n.alice.counts(); return byes == 1 })
	c.wait(487, 5*time.Second) // the replaced call ends
}

func TestPickupAcrossNodes_DirectedFindsTheCallOnTheOtherNode(t *testing.T) {
	n := newTwoNodes(t)
	c, _ := n.ringBob(t)
	n.pickedUp(t, c, n.tim.call("**2001"))
	eventually(t, 5*time.Second, "calls of both nodes done", func() bool { return n.e.srv.calls.len() == 0 && n.n2.calls.len() == 0 })
}

// A BLF key sends an INVITE with Replaces to the line it watches.
func TestPickupAcrossNodes_ReplacesFromABLFKey(t *testing.T) {
	n := newTwoNodes(t)
	c, _ := n.ringBob(t)
	if !n.n2.ringingCallNamed(c.req.CallID().Value(), "2001") {
		t.Fatal("node 2 does not see alice's call ringing on bob's line")
	}
	pick := n.tim.call("2001", sip.NewHeader("Replaces", c.req.CallID().Value()+";to-tag=x;from-tag=y"))
	n.pickedUp(t, c, pick)
	if n.n2.ringingCallNamed(c.req.CallID().Value(), "2001") {
		t.Error("the picked-up call still counts as ringing")
	}
}

// Group pickup takes the oldest call the picker may pick up, wherever it
// rings: here on node 1, while a newer one rings on node 2.
func TestPickupAcrossNodes_GroupTakesTheOldestCallOfAnyNode(t *testing.T) {
	n := newTwoNodes(t)
	n.e.user("carl", "3001", "c-pw")
	n.e.user("dora", "6001", "d-pw")
	n.e.apply(&dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "carl", Viewer: "tim", Grant: &dirpb.Grant{Level: "team"}}}})
	carl := registeredAt(t, n.n2.Addr(), "3001", "c-pw")
	dora := registeredAt(t, n.n2.Addr(), "6001", "d-pw")
	c, _ := n.ringBob(t)
	newer := dora.call("3001") // through node 2
	carl.waitRinging(5 * time.Second)
	newer.wait(180, 5*time.Second)

	n.pickedUp(t, c, n.tim.call("*8"))
	if carl.cancelCount() != 0 {
		t.Fatal("the newer call on node 2 was picked up")
	}
	// Now the only call ringing is the one on node 2: picked up there.
	pick := n.tim.call("*8")
	r := dora.waitRinging(5 * time.Second)
	if repl := r.req.GetHeader("Replaces"); repl == nil || !strings.HasPrefix(repl.Value(), newer.req.CallID().Value()+";") {
		t.Fatalf("INVITE to dora: Replaces = %v", repl)
	}
	r.answer <- 200
	pick.wait(200, 5*time.Second)
	pick.ackAndBye(true)
	newer.wait(487, 5*time.Second)
}

func TestPickupAcrossNodes_WithoutTheRightIs403AndRingsNothing(t *testing.T) {
	n := newTwoNodes(t)
	c, _ := n.ringBob(t)
	n.eve.call("**2001").wait(403, 5*time.Second)
	n.eve.call("2001", sip.NewHeader("Replaces", c.req.CallID().Value()+";to-tag=x;from-tag=y")).wait(403, 5*time.Second)
	// Group pickup searches only lines eve may pick up: nothing.
	n.eve.call("*8").wait(404, 5*time.Second)
	select {
	case r := <-n.alice.incoming:
		t.Fatalf("alice's phone got %v", r.req.StartLine())
	default:
	}
	c.cancel()
	c.wait(487, 5*time.Second)
}

// A phone cannot pass for another node: an INVITE carrying a pickup
// grant it made up, or one made for another INVITE, is refused with 403
// and rings nothing.
func TestPickupAcrossNodes_AForgedGrantIs403(t *testing.T) {
	n := newTwoNodes(t)
	c, _ := n.ringBob(t)
	// The grants name tim, who holds the pickup right over bob's line.
	g := pickupGrant{picker: "5001", call: c.req.CallID().Value(), line: "2001", expires: time.Now().Add(time.Minute)}
	// eve's phone talks to node 1 directly.
	eve1 := registered(t, n.e, "4001", "e-pw")
	for name, token := range map[string]string{
		"made with another key":   pickupToken([]byte("not the cluster's key, not at all"), g),
		"made for another INVITE": pickupToken(testFlowKey, g), // g.invite is not eve's Call-ID
		"not a grant":             "x.y",
	} {
		t.Run(name, func(t *testing.T) {
			res := eve1.call("**2001", sip.NewHeader(pickupHeader, token)).wait(403, 5*time.Second)
			if res.Reason != "Invalid Pickup Grant" {
				t.Errorf("reason %q", res.Reason)
			}
		})
	}
	select {
	case r := <-n.alice.incoming:
		t.Fatalf("alice's phone got %v", r.req.StartLine())
	default:
	}
	c.cancel()
	c.wait(487, 5*time.Second)
}

// A node that failed leaves its ringing calls in the line grains until
// they are pruned (linestate.MaxRinging). A pickup skips them at once —
// the node does not answer the probe — and takes the next call.
func TestPickupAcrossNodes_ACallOfAFailedNodeIsSkipped(t *testing.T) {
	const probe = 300 * time.Millisecond
	n := newTwoNodes(t, func(c *Config) { c.PickupProbeTimeout = probe })
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadNode := "sip:" + dead.LocalAddr().String()
	_ = dead.Close() // nothing answers there any more
	c, _ := n.ringBob(t)
	ghost := actors.CallEvent{CallID: "ghost@failed-node", Phase: linestate.PhaseRinging, Remote: "1001",
		At: time.Now().Add(-time.Minute), Node: deadNode}
	if err := n.e.be.LineCall(context.Background(), "2001", ghost); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pick := n.tim.call("**2001")
	n.pickedUp(t, c, pick)
	if took := time.Since(start); took > probe+3*time.Second {
		t.Errorf("the pickup took %v", took)
	}
	// With only the ghost left: 404 after the probe, not a transaction timeout.
	n.tim.call("**2001").wait(404, probe+3*time.Second)
}

// An INVITE with Replaces naming a *connected* call on another node is an
// attended transfer, not a pickup, even from a picker who holds the
// pickup right over the line: node 2 asks the line's grain, learns the
// call is not ringing, and routes the INVITE by its Request-URI to the
// phone holding the dialog, Replaces intact.
func TestPickupAcrossNodes_ReplacesOfAConnectedCallIsATransfer(t *testing.T) {
	n := newTwoNodes(t)
	c, r := n.ringBob(t)
	r.answer <- 200
	c.wait(200, 5*time.Second)
	c.ack()
	eventually(t, 5*time.Second, "bob's line knows the call is answered", func() bool {
		return slices.Equal(n.e.be.phases("2001"), []linestate.Phase{linestate.PhaseRinging, linestate.PhaseAnswered})
	})
	fromTag, _ := c.req.From().Params.Get("tag")
	replaces := c.req.CallID().Value() + ";to-tag=" + r.tag + ";from-tag=" + fromTag
	nc := n.tim.call("2001", sip.NewHeader("Replaces", replaces))
	rr := n.bob.waitRinging(5 * time.Second)
	if h := rr.req.GetHeader("Replaces"); h == nil || h.Value() != replaces {
		t.Fatalf("bob's phone got Replaces %v, want %q (the transfer, untouched)", h, replaces)
	}
	select {
	case got := <-n.alice.incoming:
		t.Fatalf("alice's phone got %v: the connected call was taken for a pickup", got.req.StartLine())
	default:
	}
	rr.answer <- 486
	nc.wait(486, 5*time.Second)
}
