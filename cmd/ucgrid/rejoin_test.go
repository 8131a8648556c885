package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
)

// memberOf returns the member named name in st.
func memberOf(st peers.ClusterStatus, name string) (peers.MemberStatus, bool) {
	for _, m := range st.Members {
		if m.Node == name {
			return m, true
		}
	}
	return peers.MemberStatus{}, false
}

// pollStatus polls node via's GET /v1/cluster until ok accepts it.
func (c *testCluster) pollStatus(via *clusterNode, within time.Duration, what string, ok func(peers.ClusterStatus) bool) peers.ClusterStatus {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var last peers.ClusterStatus
	for time.Now().Before(deadline) {
		st, err := c.status(via)
		if err == nil && ok(st) {
			return st
		}
		last = st
		time.Sleep(200 * time.Millisecond) // polling interval
	}
	c.t.Fatalf("%s: not within %v; last status %+v", what, within, last.Members)
	return last
}

// A node paused for longer than failure detection is declared dead and
// blocked by protoactor-go on the others. Once it runs again it must come
// back on its own: gossip re-joins, and the node restarts its actor layer
// under a new actor system ID, so grains are placed on it again and the
// cluster answers for every user.
func TestCluster_PausedNodeComesBackUnderANewActorIdentity(t *testing.T) {
	c := startCluster(t, 3)
	n1, n3 := c.nodes[0], c.nodes[2]
	inTopology := func(st peers.ClusterStatus) bool {
		m, ok := memberOf(st, n3.name)
		return ok && m.State == "alive" && m.InTopology
	}
	before := c.pollStatus(n1, 30*time.Second, "n3 in n1's actor topology", inTopology)
	oldAddr, _ := memberOf(before, n3.name)

	if err := n3.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := true
	t.Cleanup(func() {
		if paused {
			_ = n3.proc.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	c.pollStatus(n1, 30*time.Second, "n3 declared dead and out of n1's topology", func(st peers.ClusterStatus) bool {
		m, ok := memberOf(st, n3.name)
		return ok && m.State != "alive" && !m.InTopology
	})
	if err := n3.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	paused = false
	resumed := time.Now()
	after := c.pollStatus(n1, 60*time.Second, "n3 back in n1's actor topology", inTopology)
	t.Logf("n3 back in the actor topology %v after it resumed", time.Since(resumed).Round(100*time.Millisecond))
	if m, _ := memberOf(after, n3.name); m.ActorAddr == oldAddr.ActorAddr {
		t.Logf("n3 kept its actor address %s (same port); its identity is checked by the restart counter", m.ActorAddr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, metrics := httpGet(t, "http://"+n3.http+"/metrics")
		if strings.Contains(metrics, "ucgrid_cluster_actor_restarts_total 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n3 did not count one restart of its actor layer:\n%s", grepLines(metrics, "ucgrid_cluster_actor_restarts_total"))
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
	// Raft re-added n3 (the autopilot removed it after --raft-dead-after).
	c.waitVoters(3, 30*time.Second)
	// Every user's grain answers, wherever it is placed now (some on the
	// restarted node), through either node.
	token1, token3 := tokenFor(t, n1), tokenFor(t, n3)
	for i := range 12 {
		id := fmt.Sprintf("p%d", i)
		code, body, idx := apiCall(t, http.MethodPut, n1.http, "/v1/users/"+id, map[string]any{"display_name": id})
		if code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("PUT user %s: %d %s", id, code, body)
		}
		for _, via := range []struct {
			cn    *clusterNode
			token string
		}{{n3, token3}, {n1, token1}} {
			code, body, _ = bearerCall(http.MethodGet, via.cn.http, "/v1/users/"+id+"/presence", via.token, idx, nil)
			if code != http.StatusOK || !strings.Contains(body, `"offline"`) {
				t.Fatalf("GET presence of %s through %s: %d %s", id, via.cn.name, code, body)
			}
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
