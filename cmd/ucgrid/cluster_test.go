package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/internal/testnet"
)

const (
	testSecret   = "test-cluster-secret-0123456789"
	testAdminPW  = "admin-password-for-tests"
	clusterStart = 60 * time.Second
)

// freeAddr returns a 127.0.0.1 address whose TCP and UDP ports were free
// a moment ago (gossip needs both).
func freeAddr(t testing.TB) string { return testnet.FreeAddr(t) }

// clusterNode is one node of a test cluster, restartable on its data dir.
type clusterNode struct {
	name, data, gossip, raft, http string
	proc                           *proc
	wrap, args                     []string // wrapper command (network namespace) and extra flags
}

type testCluster struct {
	t     testing.TB
	nodes []*clusterNode
	seed  string
}

// startCluster starts n nodes: the first founds the cluster, the others
// join it through its gossip address.
func startCluster(t *testing.T, n int, extra ...string) *testCluster {
	t.Helper()
	c := startClusterWith(t, n, nil, extra...)
	c.waitVoters(min(n, 3), clusterStart)
	return c
}

// startClusterWith is startCluster with flags of each node's own:
// perNode(i) for node i (from 0); nil: none. It returns once every node
// serves, without waiting for the voters.
func startClusterWith(t *testing.T, n int, perNode func(i int) []string, extra ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	for i := range n {
		cn := &clusterNode{name: fmt.Sprintf("n%d", i+1), data: filepath.Join(t.TempDir(), "data"),
			gossip: freeAddr(t), raft: freeAddr(t), http: freeAddr(t)}
		if perNode != nil {
			cn.args = perNode(i)
		}
		if i == 0 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn, extra...)
		if i == 0 {
			cn.proc.waitServing(clusterStart)
		}
	}
	for _, cn := range c.nodes[1:] {
		cn.proc.waitServing(clusterStart)
	}
	return c
}

func (c *testCluster) start(cn *clusterNode, extra ...string) {
	args := []string{"--data", cn.data, "--node", cn.name, "--gossip", cn.gossip, "--raft", cn.raft,
		"--http", cn.http, "--cluster-secret", testSecret, "--admin-password", testAdminPW, "--raft-dead-after", "5s"}
	if cn.gossip != c.seed {
		args = append(args, "--join", c.seed)
	}
	cn.proc = startWrapped(c.t, cn.wrap, append(append(args, cn.args...), extra...)...)
}

// status fetches GET /v1/cluster from node cn.
func (c *testCluster) status(cn *clusterNode) (peers.ClusterStatus, error) {
	var st peers.ClusterStatus
	code, body, _ := apiCall(c.t, http.MethodGet, cn.http, "/v1/cluster", nil)
	if code != http.StatusOK {
		return st, fmt.Errorf("GET /v1/cluster on %s: %d %s", cn.name, code, body)
	}
	return st, json.Unmarshal([]byte(body), &st)
}

// waitVoters polls the first alive node until the Raft configuration has
// want voters, all of them in gossip.
func (c *testCluster) waitVoters(want int, timeout time.Duration) peers.ClusterStatus {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		for _, cn := range c.nodes {
			if cn.proc == nil || cn.proc.cmd.ProcessState != nil {
				continue
			}
			st, err := c.status(cn)
			if err == nil && len(st.Raft.Voters) == want && st.Raft.Leader != "" {
				return st
			}
			last = fmt.Sprintf("%+v %v", st.Raft, err)
			break
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	c.t.Fatalf("no %d voters after %v; last status: %s", want, timeout, last)
	return peers.ClusterStatus{}
}

// apiCall sends an admin-authenticated request and returns status, body
// and the consistency token.
func apiCall(t testing.TB, method, addr, path string, body any) (int, string, string) {
	t.Helper()
	return call(method, addr, path, adminAuth(), "", body)
}

// adminAuth is the Authorization header of apiCall.
func adminAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+testAdminPW))
}

// TestCluster_JoinForwardStatus: two nodes join the first; the leader adds
// them as voters; a write on every node succeeds (forwarded to the
// leader) and is read back at once on the same node; GET /v1/cluster and
// `ucgrid cluster status` show the three nodes.
func TestCluster_JoinForwardStatus(t *testing.T) {
	start := time.Now()
	c := startCluster(t, 3)
	t.Logf("3-node cluster formed in %v", time.Since(start).Round(time.Millisecond))
	st := c.waitVoters(3, 10*time.Second)
	if got := slices.Sorted(slices.Values(st.Raft.Voters)); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("voters %v", got)
	}
	var lat, leaderLat []time.Duration
	for i, cn := range c.nodes {
		for j := range 5 {
			id := fmt.Sprintf("u-%d-%d", i, j)
			t0 := time.Now()
			code, body, _ := apiCall(t, http.MethodPut, cn.http, "/v1/users/"+id, map[string]any{"display_name": "User " + id})
			if code != http.StatusOK && code != http.StatusCreated {
				t.Fatalf("PUT user on %s: %d %s", cn.name, code, body)
			}
			if cn.name != st.Raft.Leader {
				lat = append(lat, time.Since(t0))
			} else {
				leaderLat = append(leaderLat, time.Since(t0))
			}
			// Read-your-write on the same node, without a token.
			if code, body, _ := apiCall(t, http.MethodGet, cn.http, "/v1/users/"+id, nil); code != http.StatusOK {
				t.Fatalf("GET user on %s right after its write: %d %s", cn.name, code, body)
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(leaderLat)
	t.Logf("PUT user (no password) through a follower (forwarded): p50 %v max %v; through the leader: p50 %v max %v",
		lat[len(lat)/2], lat[len(lat)-1], leaderLat[len(leaderLat)/2], leaderLat[len(leaderLat)-1])

	var out, errOut bytes.Buffer
	code := run([]string{"cluster", "status", "--http", c.nodes[1].http, "--password", testAdminPW}, &out, &errOut)
	if code != 0 {
		t.Fatalf("cluster status: exit %d: %s", code, errOut.String())
	}
	t.Logf("ucgrid cluster status:\n%s", out.String())
	for _, want := range []string{"n1", "n2", "n3", "(leader)", "voter"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("cluster status lacks %q", want)
		}
	}
	leaderNode := c.nodes[slices.IndexFunc(c.nodes, func(cn *clusterNode) bool { return cn.name == st.Raft.Leader })]
	_, metrics := httpGet(t, "http://"+leaderNode.http+"/metrics")
	for _, want := range []string{`ucgrid_cluster_raft_changes_total{action="add_voter"} 2`, "ucgrid_raft_apply_lag_entries",
		`ucgrid_cluster_member_events_total{event="joined"}`, "ucgrid_cluster_member_suspect_total", "ucgrid_cluster_member_dead_total",
		"ucgrid_persistence_forward_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("leader's /metrics lacks %s", want)
		}
	}
	st, err := c.status(c.nodes[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.State != "alive" || m.RaftRole != "voter" || m.Applied == 0 || m.Error != "" {
			t.Errorf("member %+v", m)
		}
	}
}

// tokenFor signs in on node cn (the token works on every node) and
// returns a bearer token, so that the test's requests skip argon2.
func tokenFor(t *testing.T, cn *clusterNode) string {
	t.Helper()
	code, body, _ := apiCall(t, http.MethodPost, cn.http, "/v1/tokens", nil)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("POST /v1/tokens on %s: %d %s", cn.name, code, body)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// bearerCall is apiCall with a bearer token and an optional consistency
// token; it never fails the test (the callers count failures).
func bearerCall(method, addr, path, token string, index string, body any) (int, string, string) {
	return call(method, addr, path, "Bearer "+token, index, body)
}

// call sends one request with the Authorization header auth and returns
// status, body and the consistency token; a transport error comes back as
// status 0 with the error as body.
func call(method, addr, path, auth, index string, body any) (int, string, string) {
	code, b, h := callHeader(method, addr, path, auth, index, body)
	return code, b, h.Get("X-Ucgrid-Index")
}

// callHeader is call with the whole response header.
func callHeader(method, addr, path, auth, index string, body any) (int, string, http.Header) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body) // plain maps: cannot fail
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		return 0, err.Error(), nil
	}
	req.Header.Set("Authorization", auth)
	if index != "" {
		req.Header.Set("X-Ucgrid-Index", index)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error(), nil
	}
	return resp.StatusCode, string(b), resp.Header
}
