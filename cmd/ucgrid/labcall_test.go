package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/netlab"
)

// The sip package's SIPp scenario of a group member's phone that rings
// until the proxy cancels it.
const uasCancelled = "../../sip/testdata/sipp/uas_cancelled.xml"

// TestLab_PhonesOnOtherHostsCallThroughNodeOnAnyAddressIPv4: the node in
// its own namespace bound to 0.0.0.0, SIPp and baresip phones on other
// hosts (labCalls).
func TestLab_PhonesOnOtherHostsCallThroughNodeOnAnyAddressIPv4(t *testing.T) { labCalls(t, false) }

// TestLab_PhonesOnOtherHostsCallThroughNodeOnAnyAddressIPv6: the same
// over IPv6 (ULA addresses, the node bound to [::]).
func TestLab_PhonesOnOtherHostsCallThroughNodeOnAnyAddressIPv6(t *testing.T) { labCalls(t, true) }

// labCalls runs a node bound to the any-address and three phones on
// other hosts, each on its own subnet: bob (SIPp) and carol (baresip)
// register; alice (SIPp) calls their ring_all group, carol answers, bob
// is cancelled, alice puts the call on hold and carol hangs up; then
// alice calls bob directly, bob answers, puts her on hold and hangs up;
// then carol calls bob, puts him on hold and hangs up. Every message each
// phone received names only addresses it can reach (checkAddresses), and
// in-dialog requests came from the Record-Route's hosts.
func labCalls(t *testing.T, v6 bool) {
	lab := netlab.New(t)
	nh := lab.Host("node")
	bind, nodeAddr := "0.0.0.0:5060", nh.IPv4()
	if v6 {
		bind, nodeAddr = "[::]:5060", nh.IPv6()
	}
	n := startLabNode(t, nh, bind)
	alice, bob, carol := newLabPhone(t, lab, "alice", "201", v6), newLabPhone(t, lab, "bob", "202", v6), newLabPhone(t, lab, "carol", "203", v6)
	provisionPhones(t, n.http, alice, bob, carol)
	ringAllGroup(t, n.http, "desk", "700", bob, carol)
	server := sipAddr(nodeAddr, 5060)
	registerSIPp(t, bob, server)
	startLabBaresip(t, carol, server)

	// The group call: carol's baresip answers at once, bob's SIPp is
	// cancelled; alice holds, then carol hangs up. baresip sends its BYE
	// along the route set it was given: alice gets it only if that names
	// the node at an address carol reaches.
	bobRings := runSIPp(t, bob, uasCancelled, server)
	bobRings.ready(t)
	aliceCalls := runSIPp(t, alice, "uac_hold_hungup.xml", server, "-key", "callee", "700")
	bobRings.wait(t, 10*time.Second)
	carol.waitRequest(t, 10*time.Second, "INVITE", "ACK", "INVITE", "ACK") // the call, then the hold
	baresipCommand(t, carol, "hangup")
	aliceCalls.wait(t, 10*time.Second)

	// A direct call: bob answers, holds and hangs up.
	bobAnswers := runSIPp(t, bob, "uas_hold_hangup.xml", server, "-key", "callee", bob.number)
	bobAnswers.ready(t)
	runSIPp(t, alice, "uac_held.xml", server, "-key", "callee", bob.number).wait(t, 30*time.Second)
	bobAnswers.wait(t, 10*time.Second)

	// A direct call from baresip: bob answers, carol holds and hangs up,
	// her re-INVITE and BYE along the route set.
	bobAnswers = runSIPp(t, bob, "uas_answer.xml", server)
	bobAnswers.ready(t)
	mark := bob.mark()
	baresipCommand(t, carol, "dial "+bob.number)
	bob.waitRequestAfter(t, mark, 10*time.Second, "INVITE", "ACK")
	baresipCommand(t, carol, "hold")
	bob.waitRequestAfter(t, mark, 10*time.Second, "INVITE", "ACK", "INVITE", "ACK")
	baresipCommand(t, carol, "hangup")
	bobAnswers.wait(t, 10*time.Second)

	for _, p := range []*labPhone{alice, bob, carol} {
		got := checkAddresses(t, lab, p, nodeAddr)
		checkFollowsRecordRoute(t, p)
		t.Logf("%s (%s): %d SIP messages received, every address in them reachable", p.name, p.addr, got)
	}
}

// TestLab_CallsBetweenPhonesRegisteredOnDifferentNodes: three nodes in
// three namespaces, a cluster over mutual TLS, each node bound to its
// own address. alice (SIPp) registers through node 1, bob (baresip)
// through node 2, carol (baresip) through node 1. alice calls bob through
// node 1: bob answers, alice holds, bob hangs up. bob calls carol through
// node 2: carol answers, bob hangs up. baresip sends its in-dialog
// requests along the route set it was given (not to its outbound proxy),
// so a BYE arrives only if the Record-Route is right; every in-dialog
// request a phone received came from a host the Record-Route names, and
// no message names an address a phone cannot reach.
func TestLab_CallsBetweenPhonesRegisteredOnDifferentNodes(t *testing.T) {
	lab := netlab.New(t)
	hosts := []*netlab.Host{lab.Host("n1"), lab.Host("n2"), lab.Host("n3")}
	c := startLabCluster(t, hosts)
	alice, bob, carol := newLabPhone(t, lab, "alice", "201", false), newLabPhone(t, lab, "bob", "202", false), newLabPhone(t, lab, "carol", "203", false)
	provisionPhones(t, c.nodes[0].http, alice, bob, carol)
	waitLine(t, c.nodes[1].http, carol.number)
	s1, s2 := sipAddr(hosts[0].IPv4(), 5060), sipAddr(hosts[1].IPv4(), 5060)
	registerSIPp(t, alice, s1)
	startLabBaresip(t, bob, s2)
	startLabBaresip(t, carol, s1)

	// Into node 1, answered by a phone registered through node 2.
	aliceCalls := runSIPp(t, alice, "uac_hold_hungup.xml", s1, "-key", "callee", bob.number)
	bob.waitRequest(t, 15*time.Second, "INVITE", "ACK", "INVITE", "ACK") // the call, then the hold
	baresipCommand(t, bob, "hangup")
	aliceCalls.wait(t, 10*time.Second)

	// Into node 2, answered by a phone registered through node 1.
	baresipCommand(t, bob, "dial "+carol.number)
	carol.waitRequest(t, 15*time.Second, "INVITE", "ACK")
	baresipCommand(t, bob, "hangup")
	carol.waitRequest(t, 10*time.Second, "INVITE", "ACK", "BYE")
	bob.waitResponse(t, 10*time.Second, "BYE", 200)

	var nodes []netip.Addr
	for _, h := range hosts {
		nodes = append(nodes, h.IPv4())
	}
	for _, p := range []*labPhone{alice, bob, carol} {
		got := checkAddresses(t, lab, p, nodes...)
		checkFollowsRecordRoute(t, p)
		t.Logf("%s (%s): %d SIP messages received, every address in them reachable", p.name, p.addr, got)
	}
}

// waitLine polls the HTTP API at addr until line number is there (a write
// through another node has reached this one).
func waitLine(t testing.TB, addr, number string) {
	t.Helper()
	pollCode(t, 10*time.Second, "line "+number+" replicated to "+addr, http.StatusOK, func() (int, string) {
		code, body, _ := apiCall(t, http.MethodGet, addr, "/v1/lines/"+number, nil)
		return code, body
	})
}

// ready waits until the SIPp phone listens on its UDP port 5060 (a phone
// started in the background is ready for its call), failing the test if
// it exits first.
func (r *sippLab) ready(t testing.TB) {
	t.Helper()
	local := fmt.Sprintf(":%04X", 5060) // as /proc/net/udp writes local ports
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-r.done:
			r.done <- err // for wait and the clean-up
			t.Fatalf("sipp %s ended before its call: %v\n%s", r.name, err, lastLines(r.out.String(), 30))
		default:
		}
		out, err := r.phone.host.Command("cat", "/proc/net/udp", "/proc/net/udp6").CombinedOutput()
		if err != nil {
			t.Fatalf("reading the UDP sockets of %s: %v: %s", r.phone.name, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 1 && strings.HasSuffix(f[1], local) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp %s not listening on UDP port 5060 after 10s", r.name)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// waitRequest waits until the phone has received at least these
// requests (a method named twice: two of them), in any order: a proxy
// may pass on an ACK after the re-INVITE sent right behind it.
func (p *labPhone) waitRequest(t *testing.T, within time.Duration, methods ...string) {
	t.Helper()
	p.waitRequestAfter(t, 0, within, methods...)
}

// mark is how many SIP messages the phone has received so far.
func (p *labPhone) mark() int { return len(p.messages()) }

// waitRequestAfter is waitRequest counting only the messages after the
// first mark ones.
func (p *labPhone) waitRequestAfter(t *testing.T, mark int, within time.Duration, methods ...string) {
	t.Helper()
	want := map[string]int{}
	for _, m := range methods {
		want[m]++
	}
	deadline := time.Now().Add(within)
	for {
		got := map[string]int{}
		for _, m := range p.messages()[mark:] {
			if m.code == 0 {
				got[strings.Fields(m.start)[0]]++
			}
		}
		missing := false
		for m, n := range want {
			missing = missing || got[m] < n
		}
		if !missing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s received %v within %v, want at least %v", p.name, got, within, want)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// checkFollowsRecordRoute fails the test unless every in-dialog request
// the phone received (one with a To tag: ACK, re-INVITE, BYE) came from
// a host the Record-Route of its dialog names: the other party sent it
// along the route set, through the proxies that asked to stay in the
// path, not straight to the phone.
func checkFollowsRecordRoute(t *testing.T, p *labPhone) {
	t.Helper()
	routes := map[string][]netip.Addr{} // Call-ID → Record-Route hosts
	msgs := p.messages()
	for _, m := range msgs {
		id := strings.Join(m.header("call-id"), "")
		for _, rr := range m.header("record-route") {
			for _, h := range uriHosts(rr) {
				if a, err := netip.ParseAddr(h); err == nil {
					routes[id] = append(routes[id], a)
				}
			}
		}
	}
	inDialog := 0
	for _, m := range msgs {
		to := strings.Join(m.header("to"), ",")
		if m.code != 0 || !strings.Contains(to, "tag=") {
			continue
		}
		inDialog++
		id := strings.Join(m.header("call-id"), "")
		if !containsAddr(routes[id], m.from.Addr()) {
			t.Errorf("%s received %q from %s, which the dialog's Record-Route %v does not name", p.name, m.start, m.from, routes[id])
		}
	}
	if inDialog == 0 {
		t.Errorf("%s received no in-dialog request", p.name)
	}
}

// TestLab_NodeOnTwoSubnetsNamesEachSideItsOwnAddress: the node has an
// interface on each of two subnets that do not reach each other, bound to
// 0.0.0.0; alice's baresip is on one side, bob's on the other, each
// registered through the node's address on its side. A call from alice
// to bob and one back carry two Record-Routes (RFC 5658: the node's
// address on each side), and each phone's BYE, sent along its route set
// to the node's address on its own side, reaches the other phone.
func TestLab_NodeOnTwoSubnetsNamesEachSideItsOwnAddress(t *testing.T) {
	lab := netlab.New(t)
	alice, bob := newLabPhone(t, lab, "alice", "201", false), newLabPhone(t, lab, "bob", "202", false)
	nh := lab.MultiHomed("node", []*netlab.Host{alice.host}, []*netlab.Host{bob.host})
	sideA, sideB := nh.Addrs()[0], nh.Addrs()[2]
	n := startLabNode(t, nh, "0.0.0.0:5060")
	provisionPhones(t, n.http, alice, bob)
	startLabBaresip(t, alice, sipAddr(sideA, 5060))
	startLabBaresip(t, bob, sipAddr(sideB, 5060))

	// alice calls, bob hangs up; bob calls, alice hangs up.
	for _, c := range []struct{ caller, callee *labPhone }{{alice, bob}, {bob, alice}} {
		callee, caller := c.callee.mark(), c.caller.mark()
		baresipCommand(t, c.caller, "dial "+c.callee.number)
		c.callee.waitRequestAfter(t, callee, 10*time.Second, "INVITE", "ACK")
		baresipCommand(t, c.callee, "hangup")
		c.caller.waitRequestAfter(t, caller, 10*time.Second, "BYE")
	}

	for _, side := range []struct {
		p         *labPhone
		near, far netip.Addr
	}{{alice, sideA, sideB}, {bob, sideB, sideA}} {
		checkNextHops(t, lab, side.p, side.near)
		checkFollowsRecordRoute(t, side.p)
		// Its own call's 200 (a response: the last entry is its next hop).
		want := []string{"<sip:" + sipAddr(side.far, 5060) + ";lr>", "<sip:" + sipAddr(side.near, 5060) + ";lr>"}
		if got := recordRouteOf200(side.p); !slices.Equal(got, want) {
			t.Errorf("%s's 200 to its INVITE: Record-Route %q, want the node's far side then its own side %q", side.p.name, got, want)
		}
	}
}

// recordRouteOf200 is the Record-Route of the first 200 to an INVITE
// the phone received.
func recordRouteOf200(p *labPhone) []string {
	for _, m := range p.messages() {
		if m.code == 200 && m.cseqMethod() == "INVITE" {
			return m.header("record-route")
		}
	}
	return nil
}
