package main

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/sip/siptest"
)

// TestCluster_RoundRobinContinuesAfterTheGroupHostIsKilled: a round_robin
// group of four members on three nodes; two calls ring the first two
// members; the node hosting the group's grain is SIGKILLed (no graceful
// hand-over); the next call rings the third member and the one after the
// fourth: the position came from the directory (dirpb.HuntMemory).
func TestCluster_RoundRobinContinuesAfterTheGroupHostIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	c, sipAddrs := startSIPCluster(t, 3)
	n1 := c.nodes[0]
	for _, cn := range c.nodes { // every node places grains on all three
		c.pollStatus(cn, clusterStart, cn.name+" sees three nodes in the actor topology", func(st peers.ClusterStatus) bool {
			in := 0
			for _, m := range st.Members {
				if m.InTopology {
					in++
				}
			}
			return in == 3
		})
	}

	var index string // of the last write
	put := func(path string, body map[string]any) {
		t.Helper()
		code, resp, idx := apiCall(t, http.MethodPut, n1.http, path, body)
		if code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, code, resp)
		}
		index = idx
	}
	put("/v1/users/alice", map[string]any{"display_name": "Alice"})
	put("/v1/lines/101", map[string]any{"owner": "alice", "kind": "primary", "sip_password": "alice-sip-secret"})
	var members []map[string]any
	phones := map[string]*siptest.UA{}
	for i := 1; i <= 4; i++ {
		user, number := fmt.Sprintf("m%d", i), fmt.Sprintf("20%d", i)
		put("/v1/users/"+user, map[string]any{"display_name": user})
		put("/v1/lines/"+number, map[string]any{"owner": user, "kind": "primary", "sip_password": user + "-sip-secret"})
		members = append(members, map[string]any{"user": user, "role": "user"})
		phones[user] = siptest.NewUA(t, sipAddrs[n1.name], "ucgrid.local", number, user+"-sip-secret")
	}
	put("/v1/groups/desk", map[string]any{"name": "Desk", "active": true, "members": members,
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "round_robin", "member_timeout_s": 20, "ring_timeout_s": 60}})
	for _, cn := range c.nodes { // every node has applied the directory
		if code, resp, _ := call(http.MethodGet, cn.http, "/v1/groups/desk", adminAuth(), index, nil); code != http.StatusOK {
			t.Fatalf("GET /v1/groups/desk on %s: %d %s", cn.name, code, resp)
		}
	}
	for user, p := range phones {
		if res := p.Register(600); res.StatusCode != 200 {
			t.Fatalf("REGISTER %s: %v", user, res)
		}
	}

	callers := map[string]*siptest.UA{}
	for _, cn := range c.nodes {
		callers[cn.name] = siptest.NewUA(t, sipAddrs[cn.name], "ucgrid.local", "101", "alice-sip-secret")
	}
	// ring calls the group through node via until a member's phone rings
	// (calls during a failover may fail: they are placed again), cancels
	// the call and returns who rang.
	ring := func(via string, within time.Duration) string {
		t.Helper()
		deadline := time.Now().Add(within)
		for attempt := 1; ; attempt++ {
			call := callers[via].Call("700")
			if who, ok := firstRinging(phones, call, time.Until(deadline)); ok {
				call.Cancel()
				call.WaitStatus(487, 487, 5*time.Second)
				return who
			}
			if time.Now().After(deadline) {
				t.Fatalf("no member rang within %v (%d calls)", within, attempt)
			}
		}
	}
	if got := ring("n1", 10*time.Second); got != "m1" {
		t.Fatalf("first call rang %s, want m1", got)
	}
	if got := ring("n2", 10*time.Second); got != "m2" {
		t.Fatalf("second call rang %s, want m2", got)
	}

	st, err := c.status(n1)
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	for i, cn := range c.nodes {
		if st.Grains[cn.name]["group"] > 0 {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("no node hosts the group's grain: %v", st.Grains)
	}
	host := c.nodes[victim]
	if err := host.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	host.proc.wait(10 * time.Second)
	t.Logf("SIGKILLed %s, the group's host (Raft leader: %s)", host.name, st.Raft.Leader)
	via := c.nodes[(victim+1)%3].name
	if got := ring(via, 20*time.Second); got != "m3" {
		t.Errorf("the first call after the kill rang %s, want m3", got)
	}
	t.Logf("a member rang again %v after the kill", time.Since(killed).Round(time.Millisecond))
	if got := ring(c.nodes[(victim+2)%3].name, 10*time.Second); got != "m4" {
		t.Errorf("the next call rang %s, want m4", got)
	}
}

// firstRinging waits until one of the phones gets the call's INVITE and
// returns its user; false when the call ends first (or within runs out).
func firstRinging(phones map[string]*siptest.UA, call *siptest.Call, within time.Duration) (string, bool) {
	timeout := time.After(within)
	for {
		for user, p := range phones {
			select {
			case <-p.Incoming:
				return user, true
			default:
			}
		}
		select {
		case res := <-call.Responses:
			if !res.IsProvisional() {
				return "", false
			}
		case <-timeout:
			return "", false
		case <-time.After(5 * time.Millisecond): // polling interval over the phones
		}
	}
}
