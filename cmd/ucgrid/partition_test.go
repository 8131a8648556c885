package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/cluster/server"
)

// netLab is a routed network of Linux network namespaces: one per node,
// each with a veth to a router namespace, and one veth from the test's own
// namespace to the router, so the test reaches every node while the
// router cuts the nodes off from each other. Node i has 10.O.i.2/24
// behind router address 10.O.i.1; the test has 10.O.254.2.
type netLab struct {
	t      *testing.T
	id     string // short random tag in every name, so parallel runs do not clash
	octet  int    // the O of 10.O.0.0/16
	router string // router namespace
	nodes  []string
}

// newNetLab builds the lab for n nodes, or skips the test with the reason
// when this machine cannot (not root, no `ip`, no namespaces).
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("partition test skipped: it needs root to create network namespaces with `ip netns` (running as uid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("partition test skipped: the `ip` command (iproute2) is not installed")
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on Linux
	l := &netLab{t: t, id: hex.EncodeToString(b[:2]), octet: 100 + int(binary.BigEndian.Uint16(b[2:]))%150}
	l.router = "ucg" + l.id + "r"
	if out, err := exec.Command("ip", "netns", "add", l.router).CombinedOutput(); err != nil {
		t.Skipf("partition test skipped: cannot create a network namespace here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(l.close)
	l.ip(l.router, "link", "set", "lo", "up")
	l.sh(l.router, "echo 1 > /proc/sys/net/ipv4/ip_forward")
	// The test's own link to the router.
	host, hostPeer := "ucg"+l.id+"h", "ucg"+l.id+"hr"
	l.ip("", "link", "add", host, "type", "veth", "peer", "name", hostPeer)
	l.ip("", "link", "set", hostPeer, "netns", l.router)
	l.ip("", "addr", "add", l.addr(254, 2)+"/24", "dev", host)
	l.ip("", "link", "set", host, "up")
	l.ip("", "route", "add", fmt.Sprintf("10.%d.0.0/16", l.octet), "via", l.addr(254, 1))
	l.ip(l.router, "addr", "add", l.addr(254, 1)+"/24", "dev", hostPeer)
	l.ip(l.router, "link", "set", hostPeer, "up")
	// The test's traffic is never cut (rules before any partition's).
	l.ip(l.router, "rule", "add", "prio", "100", "from", l.subnet(254), "lookup", "main")
	l.ip(l.router, "rule", "add", "prio", "101", "to", l.subnet(254), "lookup", "main")
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("ucg%sn%d", l.id, i)
		dev, peer := fmt.Sprintf("ucg%s%d", l.id, i), fmt.Sprintf("ucg%s%dr", l.id, i)
		l.ip("", "netns", "add", ns)
		l.nodes = append(l.nodes, ns)
		l.ip("", "link", "add", dev, "type", "veth", "peer", "name", peer)
		l.ip("", "link", "set", dev, "netns", ns)
		l.ip("", "link", "set", peer, "netns", l.router)
		l.ip(ns, "link", "set", "lo", "up")
		l.ip(ns, "addr", "add", l.addr(i, 2)+"/24", "dev", dev)
		l.ip(ns, "link", "set", dev, "up")
		l.ip(ns, "route", "add", "default", "via", l.addr(i, 1))
		l.ip(l.router, "addr", "add", l.addr(i, 1)+"/24", "dev", peer)
		l.ip(l.router, "link", "set", peer, "up")
	}
	return l
}

func (l *netLab) addr(net, host int) string { return fmt.Sprintf("10.%d.%d.%d", l.octet, net, host) }
func (l *netLab) subnet(net int) string     { return fmt.Sprintf("10.%d.%d.0/24", l.octet, net) }

// ip runs `ip ARGS` in namespace ns ("" for the test's own).
func (l *netLab) ip(ns string, args ...string) {
	l.t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

func (l *netLab) sh(ns, script string) {
	l.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script).CombinedOutput(); err != nil {
		l.t.Fatalf("in %s: %s: %v: %s", ns, script, err, strings.TrimSpace(string(out)))
	}
}

// close deletes the namespaces (their veths go with them) and the test's
// end of the router link (its route goes with it).
func (l *netLab) close() {
	for _, ns := range append(l.nodes, l.router) {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = exec.Command("ip", "link", "del", "ucg"+l.id+"h").Run()
}

// cut drops, silently (like a failed WAN link), every packet between node
// i and the other nodes; the test still reaches it.
func (l *netLab) cut(i int) {
	l.ip(l.router, "rule", "add", "prio", "200", "from", l.subnet(i), "blackhole")
	l.ip(l.router, "rule", "add", "prio", "201", "to", l.subnet(i), "blackhole")
}

func (l *netLab) heal() {
	l.ip(l.router, "rule", "del", "prio", "200")
	l.ip(l.router, "rule", "del", "prio", "201")
}

// startCluster starts n nodes, node i in namespace i on 10.O.i.2 with
// fixed ports, the first founding the cluster.
func (l *netLab) startCluster(n int) *testCluster {
	l.t.Helper()
	c := &testCluster{t: l.t}
	certs := l.t.TempDir()
	for i := 1; i <= n; i++ {
		ip, name := l.addr(i, 2), fmt.Sprintf("n%d", i)
		// Every node is on an address other hosts reach: it starts only
		// with node-to-node TLS, so the lab runs the cluster over mutual
		// TLS as a real network needs it.
		cn := &clusterNode{name: name, data: filepath.Join(l.t.TempDir(), "data"),
			gossip: ip + ":7946", raft: ip + ":8300", http: ip + ":8080",
			wrap: []string{"ip", "netns", "exec", l.nodes[i-1]},
			args: append([]string{"--actor", ip + ":0", "--sip", ip + ":5060"}, tlsArgs(l.t, certs, name)...)}
		if i == 1 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn)
		if i == 1 {
			cn.proc.waitServing(clusterStart)
		}
	}
	for _, cn := range c.nodes[1:] {
		cn.proc.waitServing(clusterStart)
	}
	c.waitVoters(n, clusterStart)
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
	lab := newNetLab(t, 3)
	c := lab.startCluster(3)
	st := c.waitVoters(3, clusterStart)
	// Cut off a follower: the majority keeps its leader.
	lone, loneAt := c.nodes[2], 3
	if st.Raft.Leader == lone.name {
		lone, loneAt = c.nodes[1], 2
	}
	var majority []*clusterNode
	for _, cn := range c.nodes {
		if cn != lone {
			majority = append(majority, cn)
		}
	}
	allInTopology := func(st server.ClusterStatus) bool {
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

	lab.cut(loneAt)
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
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"no_quorum"`) || !strings.Contains(body, "cut off from the majority") {
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

	lab.heal()
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
func pollCode(t *testing.T, within time.Duration, what string, want int, f func() (int, string)) {
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
