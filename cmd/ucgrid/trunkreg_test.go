package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/kamailiotest"
	"github.com/ucgrid/ucgrid/internal/testnet"
)

// startSIPCluster starts n nodes, each with its own SIP address, and
// waits until they are voters; it returns the cluster and each node's
// SIP address by name.
func startSIPCluster(t *testing.T, n int) (*testCluster, map[string]string) {
	t.Helper()
	c := &testCluster{t: t}
	sipAddrs := map[string]string{}
	for i := range n {
		cn := &clusterNode{name: fmt.Sprintf("n%d", i+1), data: t.TempDir(), gossip: freeAddr(t), raft: freeAddr(t), http: freeAddr(t)}
		sipAddrs[cn.name] = freeAddr(t)
		cn.args = []string{"--sip", sipAddrs[cn.name]}
		if i == 0 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn)
		cn.proc.waitServing(clusterStart)
	}
	c.waitVoters(n, clusterStart)
	return c, sipAddrs
}

// TestCluster_TrunkRegistrationMovesWithTheLeader: one node, the Raft
// leader, keeps a trunk's registration at the carrier (a real Kamailio
// registrar asking for digest). When the leader is stopped (SIGTERM,
// leadership handed over), the new leader registers its own contact
// within seconds, so calls in from the carrier keep finding the cluster,
// and the API of every node says which node holds it.
func TestCluster_TrunkRegistrationMovesWithTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	kport := testnet.FreePort(t)
	log := kamailiotest.Start(t, "testdata/kamailio_registrar.cfg", kport,
		map[string]string{"USER": "trunk-user", "PASSWORD": "trunk-secret-2"})
	c, sipAddrs := startSIPCluster(t, 3)
	st := c.waitVoters(3, clusterStart)
	var leader *clusterNode
	for _, cn := range c.nodes {
		if cn.name == st.Raft.Leader {
			leader = cn
		}
	}
	if code, body, _ := apiCall(t, http.MethodPut, leader.http, "/v1/trunks/carrier", map[string]any{"name": "Carrier",
		"outbound": map[string]any{"host": "127.0.0.1", "port": kport, "domain": "carrier.example", "register": true,
			"register_expires_s": 60, "username": "trunk-user", "password": "trunk-secret-2"}}); code != http.StatusCreated {
		t.Fatalf("PUT trunk: %d %s", code, body)
	}
	// contactOf is the line the registrar logs for name's binding.
	contactOf := func(name string) string {
		return "contact <sip:trunk-user@" + sipAddrs[name] + ">"
	}
	waitLog := func(what, text string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !strings.Contains(log.String(), text) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the registrar never logged %q within %v", what, text, within)
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
	}
	waitLog("the leader registers", contactOf(leader.name), 15*time.Second)
	for _, cn := range c.nodes {
		if cn == leader {
			continue
		}
		if strings.Contains(log.String(), contactOf(cn.name)) {
			t.Errorf("%s, not the leader, registered too", cn.name)
		}
		code, body, _ := apiCall(t, http.MethodGet, cn.http, "/v1/trunks/carrier", nil)
		if code != http.StatusOK || !strings.Contains(body, `"elsewhere"`) || !strings.Contains(body, strconv.Quote(leader.name)) {
			t.Errorf("GET /v1/trunks/carrier on %s: %d %s, want the registration held elsewhere, by %s", cn.name, code, body, leader.name)
		}
	}

	stopped := time.Now()
	if err := leader.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := leader.proc.wait(drainLimit); code != 0 {
		t.Fatalf("leader exit %d after SIGTERM", code)
	}
	waitLog("the old leader removes its binding", contactOf(leader.name)+" expires 0", time.Second)
	st = c.waitVoters(2, 20*time.Second)
	waitLog("the new leader registers", contactOf(st.Raft.Leader), 15*time.Second)
	t.Logf("%s registered %v after %s was stopped", st.Raft.Leader, time.Since(stopped).Round(time.Millisecond), leader.name)
	for _, cn := range c.nodes {
		if cn == leader {
			continue
		}
		want := `"elsewhere"`
		if cn.name == st.Raft.Leader {
			want = `"registered"`
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, body, _ := apiCall(t, http.MethodGet, cn.http, "/v1/trunks/carrier", nil)
			if code == http.StatusOK && strings.Contains(body, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("GET /v1/trunks/carrier on %s: %d %s, want %s", cn.name, code, body, want)
				break
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
	}
	if strings.Contains(log.String(), "trunk-secret-2") {
		t.Error("the trunk's password crossed the wire")
	}
}
