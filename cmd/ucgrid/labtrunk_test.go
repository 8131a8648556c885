package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/netlab"
)

// TestLab_CallOutThroughACarrierOnTheOtherSubnet: the node sits between
// the office LAN (alice's baresip) and the carrier's network (a SIPp
// carrier that challenges with digest), bound to 0.0.0.0. alice dials a
// national number; the dial plan sends it to the carrier, which must get
// it from the node's address on its own side (the top Via of every
// request, the first Record-Route), the challenge answered with the
// trunk's credentials and alice's public number asserted; alice's
// hang-up reaches the carrier as BYE.
func TestLab_CallOutThroughACarrierOnTheOtherSubnet(t *testing.T) {
	lab := netlab.New(t)
	alice := newLabPhone(t, lab, "alice", "201", false)
	carrier := newLabPhone(t, lab, "carrier", "900", false)
	nh := lab.MultiHomed("node", []*netlab.Host{alice.host}, []*netlab.Host{carrier.host})
	sideA, sideB := nh.Addrs()[0], nh.Addrs()[2]
	n := startLabNode(t, nh, "0.0.0.0:5060")
	provisionPhones(t, n.http, alice)
	mustAPI(t, n.http, http.MethodPut, "/v1/lines/201", map[string]any{"owner": "alice", "kind": "primary",
		"sip_password": alice.pw, "e164": "+4989123201"})
	mustAPI(t, n.http, http.MethodPut, "/v1/trunks/carrier", map[string]any{"name": "Carrier",
		"addresses": []string{carrier.addr.String() + "/32"},
		"outbound": map[string]any{"host": carrier.addr.String(), "domain": "carrier.example",
			"username": "ucgrid-trunk", "password": "trunk-secret-1", "main_number": "+4989123000"}})
	mustAPI(t, n.http, http.MethodPut, "/v1/dialplan", map[string]any{"rules": []map[string]any{
		{"name": "national", "pattern": "_0ZX.", "trunk": "carrier", "strip": 1, "prepend": "+49", "call_class": "national"}}})
	up := startLabSIPp(t, carrier, "../../sip/testdata/sipp/uas_carrier.xml", sipAddr(sideB, 5060),
		"-key", "user", "ucgrid-trunk", "-key", "secret", "trunk-secret-1")
	startLabBaresip(t, alice, sipAddr(sideA, 5060))

	baresipCommand(t, alice, "dial 0301234567")
	carrier.waitRequest(t, 15*time.Second, "INVITE", "INVITE", "ACK", "ACK")
	baresipCommand(t, alice, "hangup")
	up.wait(t, 20*time.Second)

	var invites []sipMsg
	for _, m := range carrier.messages() {
		if m.code == 0 && strings.HasPrefix(m.start, "INVITE ") {
			invites = append(invites, m)
		}
	}
	if len(invites) != 2 {
		t.Fatalf("the carrier got %d INVITEs, want the first and the one answering its challenge", len(invites))
	}
	last := invites[1]
	if want := "INVITE sip:+49301234567@carrier.example SIP/2.0"; last.start != want {
		t.Errorf("the carrier's INVITE: %q, want %q", last.start, want)
	}
	if pai := last.header("p-asserted-identity"); len(pai) != 1 || !strings.Contains(pai[0], "+4989123201") {
		t.Errorf("P-Asserted-Identity %q, want alice's public number", pai)
	}
	if auth := strings.Join(last.header("authorization"), ","); !strings.Contains(auth, `username="ucgrid-trunk"`) {
		t.Errorf("Authorization %q, want the trunk's credentials", auth)
	}
	// Where the carrier answers and sends: the top Via of every request
	// and the first Record-Route of the INVITE (the node's second one,
	// RFC 5658, names its LAN side for the phone's half of the route).
	for _, m := range carrier.messages() {
		if m.code != 0 {
			continue
		}
		if via := m.header("via"); len(via) == 0 || !slices.Contains(viaHosts(via[0]), sideB.String()) {
			t.Errorf("%s: top Via %q, want the node's address on the carrier's side %s", m.start, via, sideB)
		}
	}
	if rr := last.header("record-route"); len(rr) == 0 || !strings.Contains(rr[0], sipAddr(sideB, 5060)) {
		t.Errorf("the INVITE's Record-Route %q, want the node's carrier side %s first", rr, sideB)
	}
}
