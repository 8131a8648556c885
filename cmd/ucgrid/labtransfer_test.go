package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/netlab"
)

// TestLab_BlindTransferAcrossNodes: two nodes in two namespaces; alice's
// baresip registers through node 1, carol's through node 2, bob's
// through node 2. alice calls bob through node 1; bob transfers her to
// carol with baresip's own command (menu "transfer"): his REFER goes
// along the route set through node 1, alice's baresip accepts it, dials
// carol through node 1 and reports the progress in NOTIFYs that reach
// bob; bob's baresip hangs the first call up when the transfer
// succeeded. alice's and carol's journal entries of the new call say bob
// (202) transferred it to carol (203), learnt from the REFER node 1
// relayed (baresip 1.0 sends no Referred-By).
func TestLab_BlindTransferAcrossNodes(t *testing.T) {
	lab := netlab.New(t)
	hosts := []*netlab.Host{lab.Host("n1"), lab.Host("n2")}
	c := startLabCluster(t, hosts)
	alice, bob, carol := newLabPhone(t, lab, "alice", "201", false), newLabPhone(t, lab, "bob", "202", false), newLabPhone(t, lab, "carol", "203", false)
	provisionPhones(t, c.nodes[0].http, alice, bob, carol)
	waitLine(t, c.nodes[1].http, carol.number)
	s1, s2 := sipAddr(hosts[0].IPv4(), 5060), sipAddr(hosts[1].IPv4(), 5060)
	startLabBaresip(t, alice, s1)
	startLabBaresip(t, bob, s2)
	startLabBaresip(t, carol, s2)

	baresipCommand(t, alice, "dial "+bob.number)
	bob.waitRequest(t, 15*time.Second, "INVITE", "ACK")
	baresipCommand(t, bob, "transfer "+carol.number)
	alice.waitRequest(t, 15*time.Second, "REFER")
	carol.waitRequest(t, 15*time.Second, "INVITE", "ACK")
	bob.waitRequest(t, 15*time.Second, "NOTIFY", "NOTIFY") // 100 Trying, 200 OK
	bob.waitResponse(t, 15*time.Second, "BYE", 200)        // the first call ends
	baresipCommand(t, carol, "hangup")
	alice.waitRequest(t, 15*time.Second, "BYE")

	for _, who := range []string{"alice", "carol"} {
		pollCode(t, 15*time.Second, who+"'s journal shows the transfer", http.StatusOK, func() (int, string) {
			code, body, _ := apiCall(t, http.MethodGet, c.nodes[1].http, "/v1/users/"+who+"/journal", nil)
			var page struct {
				Items []struct {
					RemoteNumber  string `json:"remote_number"`
					TransferredBy string `json:"transferred_by"`
					TransferredTo string `json:"transferred_to"`
				} `json:"items"`
			}
			if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
				return code, body
			}
			for _, e := range page.Items {
				if e.TransferredBy == bob.number && e.TransferredTo == carol.number {
					return http.StatusOK, body
				}
			}
			return http.StatusNotFound, body
		})
	}
	for _, p := range []*labPhone{alice, bob, carol} {
		checkFollowsRecordRoute(t, p)
	}
}
