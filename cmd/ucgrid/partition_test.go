package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/internal/netlab"
)

// startLabCluster starts a node on each host, on the host's IPv4 address
// with fixed ports, the first founding the cluster. extra flags come
// last, so they override (e.g. "--sip", "0.0.0.0:5060").
func startLabCluster(t *testing.T, hosts []*netlab.Host, extra ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	certs := t.TempDir()
	for i, h := range hosts {
		ip, name := h.IPv4().String(), fmt.Sprintf("n%d", i+1)
		// Every node is on an address other hosts reach: it starts only
		// with node-to-node TLS, so the lab runs the cluster over mutual
		// TLS as a real network needs it.
		cn := &clusterNode{name: name, data: filepath.Join(t.TempDir(), "data"),
			gossip: ip + ":7946", raft: ip + ":8300", http: ip + ":8080", wrap: h.Wrap(),
			args: append(append([]string{"--actor", ip + ":0", "--sip", ip + ":5060"}, tlsArgs(t, certs, name)...), extra...)}
		if i == 0 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn)
		if i == 0 {
			cn.proc.waitServing(clusterStart)
		}
	}
	for _, cn := range c.nodes[1:] {
		cn.proc.waitServing(clusterStart)
	}
	c.waitVoters(len(hosts), clusterStart)
	return c
}

// TestCluster_PartitionMinorityRefusesWritesServesStaleReadsAndHeals cuts
// one of three nodes off from the others with network namespaces. The
// minority node refuses writes with 503 no_quorum and a message that says
// why, keeps serving reads from its copy marked X-Ucgrid-Stale, while the
// majority goes on taking writes. When the link heals the node catches up,
// rejoins gossip, Raft and the actor topology, and takes writes again,
// with no operator step.
func TestCluster_PartitionMinorityRefusesWritesServesStaleReadsAndHeals(t *testing.T) {
	lab := netlab.New(t)
	hosts := []*netlab.Host{lab.Host("n1"), lab.Host("n2"), lab.Host("n3")}
	c := startLabCluster(t, hosts)
	st := c.waitVoters(3, clusterStart)
	// Cut off a follower: the majority keeps its leader.
	loneAt := 2
	if st.Raft.Leader == c.nodes[loneAt].name {
		loneAt = 1
	}
	lone := c.nodes[loneAt]
	var majority []*clusterNode
	var majorityHosts []*netlab.Host
	for i, cn := range c.nodes {
		if cn != lone {
			majority = append(majority, cn)
			majorityHosts = append(majorityHosts, hosts[i])
		}
	}
	allInTopology := func(st peers.ClusterStatus) bool {
		for _, cn := range c.nodes {
			if m, ok := memberOf(st, cn.name); !ok || m.State != "alive" || !m.InTopology {
				return false
			}
		}
		return true
	}
	c.pollStatus(lone, 30*time.Second, "every node alive and in the actor topology before the cut", allInTopology)
	if code, body, _ := apiCall(t, http.MethodPut, lone.http, "/v1/users/before", map[string]any{"display_name": "Before"}); code != http.StatusCreated {
		t.Fatalf("write through %s before the cut: %d %s", lone.name, code, body)
	}

	for _, h := range majorityHosts {
		lab.Cut(hosts[loneAt], h)
	}
	cut := time.Now()
	t.Logf("cut %s off from %s and %s", lone.name, majority[0].name, majority[1].name)

	// The majority elects (or keeps) a leader and takes writes.
	pollCode(t, 20*time.Second, "a write through the majority after the cut", http.StatusCreated, func() (int, string) {
		code, body, _ := apiCall(t, http.MethodPut, majority[0].http, "/v1/users/during", map[string]any{"display_name": "During"})
		return code, body
	})
	t.Logf("majority took a write %v after the cut", time.Since(cut).Round(10*time.Millisecond))

	// The minority notices it lost the leader: its reads are marked stale.
	pollCode(t, 10*time.Second, "reads on the minority side marked stale", http.StatusOK, func() (int, string) {
		code, body, hdr := callHeader(http.MethodGet, lone.http, "/v1/users/before", adminAuth(), "", nil)
		if code == http.StatusOK && hdr.Get(api.StaleHeader) == "" {
			return 0, "not marked stale"
		}
		return code, body
	})
	t.Logf("minority reads marked stale %v after the cut", time.Since(cut).Round(10*time.Millisecond))
	// The minority refuses writes, with a reason a person can act on.
	start := time.Now()
	code, body, _ := apiCall(t, http.MethodPut, lone.http, "/v1/users/lost", map[string]any{"display_name": "Lost"})
	t.Logf("write on the minority side: %d after %v: %s", code, time.Since(start).Round(10*time.Millisecond), body)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"no_quorum"`) || !strings.Contains(body, "cannot reach a majority of the cluster") {
		t.Fatalf("write on the minority side: want 503 no_quorum naming the cause, got %d %s", code, body)
	}
	// Once cut off for ForwardTimeout, the refusal comes without retrying.
	start = time.Now()
	code, body, _ = apiCall(t, http.MethodPut, lone.http, "/v1/users/lost", map[string]any{"display_name": "Lost"})
	again := time.Since(start)
	t.Logf("second write on the minority side: %d after %v", code, again.Round(time.Millisecond))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no leader heard from for") {
		t.Fatalf("second write on the minority side: want an immediate 503 no_quorum, got %d %s", code, body)
	}

	// Reads go on, from the minority's copy, marked stale.
	code, body, hdr := callHeader(http.MethodGet, lone.http, "/v1/users/before", adminAuth(), "", nil)
	if code != http.StatusOK || !strings.Contains(body, "Before") {
		t.Fatalf("read on the minority side: %d %s", code, body)
	}
	age, err := strconv.ParseFloat(hdr.Get(api.StaleHeader), 64)
	if err != nil || age < 0.5 {
		t.Fatalf("read on the minority side: %s %q, want the seconds since the leader was last heard (>= 0.5)", api.StaleHeader, hdr.Get(api.StaleHeader))
	}
	t.Logf("minority read marked %s: %s", api.StaleHeader, hdr.Get(api.StaleHeader))
	if code, _, _ := apiCall(t, http.MethodGet, lone.http, "/v1/users/during", nil); code != http.StatusNotFound {
		t.Fatalf("the minority's copy has a write it cannot have seen: GET during = %d", code)
	}
	if code, _, hdr := callHeader(http.MethodGet, majority[0].http, "/v1/users/during", adminAuth(), "", nil); code != http.StatusOK || hdr.Get(api.StaleHeader) != "" {
		t.Fatalf("read on the majority side: %d, %s %q (want 200, unmarked)", code, api.StaleHeader, hdr.Get(api.StaleHeader))
	}

	for _, h := range majorityHosts {
		lab.Heal(hosts[loneAt], h)
	}
	healed := time.Now()
	// The minority catches up (reads unmarked, the majority's write there)
	// and forwards writes to the leader again.
	pollCode(t, 30*time.Second, "the minority's copy caught up after the heal", http.StatusOK, func() (int, string) {
		code, body, hdr := callHeader(http.MethodGet, lone.http, "/v1/users/during", adminAuth(), "", nil)
		if code == http.StatusOK && hdr.Get(api.StaleHeader) != "" {
			return 0, "still marked stale: " + hdr.Get(api.StaleHeader)
		}
		return code, body
	})
	caughtUp := time.Since(healed)
	pollCode(t, 30*time.Second, "a write through the former minority after the heal", http.StatusCreated, func() (int, string) {
		code, body, _ := apiCall(t, http.MethodPut, lone.http, "/v1/users/after", map[string]any{"display_name": "After"})
		return code, body
	})
	st = c.pollStatus(majority[0], 60*time.Second, "every node alive and in the actor topology after the heal", allInTopology)
	t.Logf("healed: directory caught up %v, whole cluster (gossip, actor topology) %v after the heal; leader %s",
		caughtUp.Round(10*time.Millisecond), time.Since(healed).Round(100*time.Millisecond), st.Raft.Leader)
	c.waitVoters(3, 30*time.Second)
	// Grains answer through the former minority again.
	tok := tokenFor(t, lone)
	pollCode(t, 30*time.Second, "a presence change through the former minority", http.StatusOK, func() (int, string) {
		code, body, _ := bearerCall(http.MethodPut, lone.http, "/v1/users/admin/presence", tok, "", map[string]any{"state": "busy"})
		return code, body
	})
	tokM := tokenFor(t, majority[1])
	pollCode(t, 10*time.Second, "the change seen through the majority", http.StatusOK, func() (int, string) {
		code, body, _ := bearerCall(http.MethodGet, majority[1].http, "/v1/users/admin/presence", tokM, "", nil)
		if code == http.StatusOK && !strings.Contains(body, `"busy"`) {
			return 0, body
		}
		return code, body
	})
}

// pollCode calls f until it answers want, failing after within.
func pollCode(t testing.TB, within time.Duration, what string, want int, f func() (int, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := f()
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last answer %d %s", what, within, code, body)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}
