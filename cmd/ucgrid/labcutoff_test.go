package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/internal/netlab"
)

// TestLab_CutOffNodeKeepsCallingAndJournalsOnceAfterHeal: three nodes in
// network namespaces; alice and bob (SIPp) register through a follower,
// which is then cut off from the other two (a branch office whose WAN
// link failed). On the cut-off node presence changes, a direct call
// between them and a call to their ring_all group both succeed,
// directory writes there are refused with 503 no_quorum, carol's phone
// registers for the first time and is called, a call out through the
// branch's own carrier (digest-challenged) connects, and the calls'
// journal entries wait in the node's queue (not in the directory yet). After the heal, with no operator step,
// every entry reaches every node exactly once, and carol, registered only
// during the cut, is called through another node.
func TestLab_CutOffNodeKeepsCallingAndJournalsOnceAfterHeal(t *testing.T) {
	needSIPp(t)
	lab := netlab.New(t)
	hosts := []*netlab.Host{lab.Host("n1"), lab.Host("n2"), lab.Host("n3")}
	c := startLabCluster(t, hosts)
	st := c.waitVoters(3, clusterStart)
	loneAt := 2
	if st.Raft.Leader == c.nodes[loneAt].name {
		loneAt = 1
	}
	lone := c.nodes[loneAt]
	var majority []*clusterNode
	for _, cn := range c.nodes {
		if cn != lone {
			majority = append(majority, cn)
		}
	}
	alice, bob, carol := newLabPhone(t, lab, "alice", "201", false), newLabPhone(t, lab, "bob", "202", false), newLabPhone(t, lab, "carol", "203", false)
	// The branch office's own carrier, reached by the cut-off node only
	// (its line to the outside does not cross the failed WAN link).
	carrier := newLabPhone(t, lab, "carrier", "900", false)
	provisionPhones(t, majority[0].http, alice, bob, carol)
	ringAllGroup(t, majority[0].http, "desk", "700", bob)
	mustAPI(t, majority[0].http, http.MethodPut, "/v1/trunks/carrier", map[string]any{"name": "Branch carrier",
		"addresses": []string{carrier.addr.String() + "/32"},
		"outbound": map[string]any{"host": carrier.addr.String(), "domain": "carrier.example",
			"username": "branch-trunk", "password": "trunk-secret-1", "main_number": "+4989123000"}})
	mustAPI(t, majority[0].http, http.MethodPut, "/v1/dialplan", map[string]any{"rules": []map[string]any{
		{"name": "national", "pattern": "_0ZX.", "trunk": "carrier", "strip": 1, "prepend": "+49", "call_class": "national"}}})
	pollCode(t, 10*time.Second, "the dial plan replicated to "+lone.name, http.StatusOK, func() (int, string) {
		code, body, _ := apiCall(t, http.MethodGet, lone.http, "/v1/dialplan", nil)
		if !strings.Contains(body, `"carrier"`) {
			return 0, body
		}
		return code, body
	})
	waitLine(t, lone.http, carol.number)
	pollCode(t, 10*time.Second, "group desk replicated to "+lone.name, http.StatusOK, func() (int, string) {
		code, body, _ := apiCall(t, http.MethodGet, lone.http, "/v1/groups/desk", nil)
		return code, body
	})
	server := sipAddr(hosts[loneAt].IPv4(), 5060)
	registerSIPp(t, alice, server)
	registerSIPp(t, bob, server)

	tok := tokenFor(t, lone) // signing in writes the token through Raft: before the cut

	for i, h := range hosts {
		if i != loneAt {
			lab.Cut(hosts[loneAt], h)
		}
	}
	cut := time.Now()
	// The cut-off node sees the others gone and keeps the actor topology
	// to itself: its grains run there.
	c.pollStatus(lone, 30*time.Second, "the cut-off node alone in its actor topology", func(st peers.ClusterStatus) bool {
		for _, cn := range majority {
			if m, ok := memberOf(st, cn.name); ok && (m.State == "alive" || m.InTopology) {
				return false
			}
		}
		return true
	})
	t.Logf("%s alone in its topology %v after the cut", lone.name, time.Since(cut).Round(10*time.Millisecond))
	code, body, _ := apiCall(t, http.MethodPut, lone.http, "/v1/users/lost", map[string]any{"display_name": "Lost"})
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"no_quorum"`) || !strings.Contains(body, "cannot reach a majority of the cluster") {
		t.Fatalf("a directory write on the cut-off node: want 503 no_quorum saying why, got %d %s", code, body)
	}

	// Presence changes on the cut-off node (never stored: no quorum needed).
	if code, body, _ := bearerCall(http.MethodPut, lone.http, "/v1/users/admin/presence", tok, "", map[string]any{"state": "busy"}); code != http.StatusOK {
		t.Fatalf("a presence change on the cut-off node: %d %s", code, body)
	}
	if code, body, _ := bearerCall(http.MethodGet, lone.http, "/v1/users/admin/presence", tok, "", nil); code != http.StatusOK || !strings.Contains(body, `"busy"`) {
		t.Fatalf("presence read back on the cut-off node: %d %s", code, body)
	}

	// A direct call, then a group call, between phones of the cut-off node.
	for _, callee := range []string{bob.number, "700"} {
		start := time.Now()
		answers := runSIPp(t, bob, "uas_answer.xml", server)
		answers.ready(t)
		runSIPp(t, alice, "uac_call.xml", server, "-key", "callee", callee).wait(t, 30*time.Second)
		answers.wait(t, 10*time.Second)
		t.Logf("call to %s on the cut-off node: done in %v", callee, time.Since(start).Round(10*time.Millisecond))
	}
	// A phone registers for the first time during the cut, and is called.
	registerSIPp(t, carol, server)
	answers := runSIPp(t, carol, "uas_answer.xml", server)
	answers.ready(t)
	runSIPp(t, alice, "uac_call.xml", server, "-key", "callee", carol.number).wait(t, 30*time.Second)
	answers.wait(t, 10*time.Second)
	// A call out through the branch's carrier, which challenges the
	// trunk: the node answers with the trunk's credentials, read from its
	// own copy of the directory.
	up := startLabSIPp(t, carrier, "../../sip/testdata/sipp/uas_carrier.xml", server,
		"-key", "user", "branch-trunk", "-key", "secret", "trunk-secret-1")
	runSIPp(t, alice, "../../sip/testdata/sipp/uac_call.xml", server, "-key", "callee", "0301234567").wait(t, 30*time.Second)
	up.wait(t, 20*time.Second)
	// Their journal entries wait on the cut-off node, in no directory yet
	// (the call out has one entry, alice's).
	pollCode(t, 20*time.Second, "7 journal entries queued on "+lone.name, http.StatusOK, func() (int, string) {
		n := metricValue(t, lone.http, "ucgrid_persistence_journal_queued_entries")
		if n != 7 {
			return 0, fmt.Sprintf("%v queued", n)
		}
		return http.StatusOK, ""
	})
	for _, who := range []string{"alice", "bob", "carol"} {
		if ids := journalIDs(t, majority[0].http, who); len(ids) != 0 {
			t.Fatalf("%s's journal on the majority during the cut: %v, want none yet", who, ids)
		}
	}

	for i, h := range hosts {
		if i != loneAt {
			lab.Heal(hosts[loneAt], h)
		}
	}
	healed := time.Now()
	pollCode(t, 60*time.Second, "the journal queue of "+lone.name+" committed after the heal", http.StatusOK, func() (int, string) {
		if n := metricValue(t, lone.http, "ucgrid_persistence_journal_queued_entries"); n != 0 {
			return 0, fmt.Sprintf("%v queued", n)
		}
		return http.StatusOK, ""
	})
	t.Logf("journal queue committed %v after the heal", time.Since(healed).Round(10*time.Millisecond))
	// carol's binding, kept by the cut-off node, reached the directory:
	// a call through another node rings her.
	c.pollStatus(majority[0], 60*time.Second, "every node alive and in the actor topology after the heal", func(st peers.ClusterStatus) bool {
		for _, cn := range c.nodes {
			if m, ok := memberOf(st, cn.name); !ok || m.State != "alive" || !m.InTopology {
				return false
			}
		}
		return true
	})
	other := sipAddr(hosts[slices.Index(c.nodes, majority[0])].IPv4(), 5060)
	answers = runSIPp(t, carol, "uas_answer.xml", server)
	answers.ready(t)
	runSIPp(t, alice, "uac_call.xml", other, "-key", "callee", carol.number).wait(t, 30*time.Second)
	answers.wait(t, 10*time.Second)

	want := map[string]int{"alice": 5, "bob": 2, "carol": 2}
	for _, cn := range c.nodes {
		for who, n := range want {
			pollCode(t, 20*time.Second, fmt.Sprintf("%s's %d journal entries, once each, on %s", who, n, cn.name), http.StatusOK, func() (int, string) {
				ids := journalIDs(t, cn.http, who)
				seen := map[string]int{}
				for _, id := range ids {
					seen[id]++
				}
				if len(ids) != n || len(seen) != n {
					return 0, fmt.Sprintf("%v", ids)
				}
				return http.StatusOK, ""
			})
		}
	}
}

// journalIDs lists the ids of user's journal entries through the API at
// addr (as the admin).
func journalIDs(t *testing.T, addr, user string) []string {
	t.Helper()
	code, body, _ := apiCall(t, http.MethodGet, addr, "/v1/users/"+user+"/journal", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s's journal on %s: %d %s", user, addr, code, body)
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page.Items {
		ids = append(ids, e.ID)
	}
	return ids
}

// metricValue reads a gauge without labels from the node's /metrics (-1
// when absent).
func metricValue(t *testing.T, addr, name string) float64 {
	t.Helper()
	code, body, _ := callHeader(http.MethodGet, addr, "/metrics", "", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics on %s: %d", addr, code)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}
