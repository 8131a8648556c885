package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/netlab"
)

// TestLab_PhoneBehindNATReceivesCalls: carol's baresip sits behind a
// masquerading NAT (a private address in its Via and Contact) whose UDP
// mappings expire after 3 s; alice's SIPp is on the node's side. carol
// registers, then receives a group call (alice hangs up) and a direct call
// (carol hangs up): the node reaches her through the address and port her
// REGISTER came from, never her private Contact. Then the node's
// keep-alives run for longer than three mapping lifetimes, and carol
// still receives a call: without them the NAT would have dropped the
// mapping and the INVITE with it.
func TestLab_PhoneBehindNATReceivesCalls(t *testing.T) {
	lab := netlab.New(t)
	nh := lab.Host("node")
	server := sipAddr(nh.IPv4(), 5060)
	n := startLabNode(t, nh, server, "--sip-nat-ping", "1s")
	alice := newLabPhone(t, lab, "alice", "201", false)
	carol := attachPhone(lab.NATHost("carol"), "203", false)
	carol.host.NAT().SetUDPTimeout(3 * time.Second)
	provisionPhones(t, n.http, alice, carol)
	ringAllGroup(t, n.http, "desk", "700", carol)
	startLabBaresip(t, carol, server)

	// The group call: carol answers at once, alice holds, then hangs up.
	runSIPp(t, alice, "uac_call.xml", server, "-key", "callee", "700").wait(t, 30*time.Second)
	carol.waitRequest(t, 5*time.Second, "BYE")

	// The direct call: carol hangs up once the call is up.
	acks := carol.count("ACK")
	call := runSIPp(t, alice, "uac_hung_up.xml", server, "-key", "callee", carol.number)
	carol.waitCount(t, 10*time.Second, "ACK", acks+1)
	baresipCommand(t, carol, "hangup")
	call.wait(t, 20*time.Second)

	// Keep-alives outlive the NAT's mapping timeout several times over.
	pings := natPingsAnswered(t, n.http)
	waitFor(t, 20*time.Second, "9 more keep-alives answered through the NAT", func() bool {
		return natPingsAnswered(t, n.http) >= pings+9
	})
	invites := carol.count("INVITE")
	runSIPp(t, alice, "uac_call.xml", server, "-key", "callee", carol.number).wait(t, 30*time.Second)
	if carol.count("INVITE") <= invites {
		t.Fatal("carol received no INVITE after the keep-alives")
	}

	got := checkAddresses(t, lab, carol, nh.IPv4())
	checkFollowsRecordRoute(t, carol)
	t.Logf("carol (%s behind %s): %d SIP messages received, every address in them reachable", carol.addr, carol.host.NAT().IPv4(), got)
}

// TestLab_PhoneBehindNATOnAnotherNodeReceivesCalls: three nodes in three
// namespaces; carol's baresip, behind a masquerading NAT, registers
// through node 2; alice's SIPp calls her through node 1. Node 1 routes
// the INVITE to node 2 (the binding's Path), which relays it over
// carol's flow and stays in the dialog: alice holds and hangs up, then
// in a second call carol hangs up, every request along the route set.
// The nodes' SIP sockets are bound to 0.0.0.0, as an operator would: the
// Path node 2 stores names the address the other nodes reach it at.
func TestLab_PhoneBehindNATOnAnotherNodeReceivesCalls(t *testing.T) {
	lab := netlab.New(t)
	hosts := []*netlab.Host{lab.Host("n1"), lab.Host("n2"), lab.Host("n3")}
	c := startLabCluster(t, hosts, "--sip", "0.0.0.0:5060")
	alice := newLabPhone(t, lab, "alice", "201", false)
	carol := attachPhone(lab.NATHost("carol"), "203", false)
	provisionPhones(t, c.nodes[0].http, alice, carol)
	waitLine(t, c.nodes[1].http, carol.number)
	s1, s2 := sipAddr(hosts[0].IPv4(), 5060), sipAddr(hosts[1].IPv4(), 5060)
	startLabBaresip(t, carol, s2)

	runSIPp(t, alice, "uac_call.xml", s1, "-key", "callee", carol.number).wait(t, 30*time.Second)
	carol.waitRequest(t, 5*time.Second, "BYE")

	acks := carol.count("ACK")
	call := runSIPp(t, alice, "uac_hung_up.xml", s1, "-key", "callee", carol.number)
	carol.waitCount(t, 10*time.Second, "ACK", acks+1)
	baresipCommand(t, carol, "hangup")
	call.wait(t, 20*time.Second)

	got := checkAddresses(t, lab, carol, hosts[0].IPv4(), hosts[1].IPv4(), hosts[2].IPv4())
	checkFollowsRecordRoute(t, carol)
	for _, m := range carol.messages() {
		if m.code == 0 && !m.from.Addr().IsUnspecified() && m.from.Addr() != hosts[1].IPv4() && m.from.Addr() != carol.addr {
			t.Errorf("carol received %q from %s: only node 2, which holds her flow, can reach her", m.start, m.from)
		}
	}
	t.Logf("carol (%s behind %s): %d SIP messages received, every address in them reachable", carol.addr, carol.host.NAT().IPv4(), got)
}

// count is how many method requests the phone has received.
func (p *labPhone) count(method string) int {
	n := 0
	for _, m := range p.messages() {
		if m.code == 0 && strings.HasPrefix(m.start, method+" ") {
			n++
		}
	}
	return n
}

// waitCount waits until the phone has received want method requests.
func (p *labPhone) waitCount(t *testing.T, within time.Duration, method string, want int) {
	t.Helper()
	waitFor(t, within, fmt.Sprintf("%s receives %d %s", p.name, want, method), func() bool { return p.count(method) >= want })
}

// natPingsAnswered reads ucgrid_sip_nat_pings_total{result="answered"}
// from the node's /metrics.
func natPingsAnswered(t *testing.T, addr string) int {
	t.Helper()
	code, body := httpGet(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, `ucgrid_sip_nat_pings_total{result="answered"} `); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric line %q", l)
			}
			return int(f)
		}
	}
	return 0
}
