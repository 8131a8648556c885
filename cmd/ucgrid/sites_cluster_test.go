package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
)

// startSites starts one node per entry of sites, each with --site, and
// waits until the leader has made every node a Raft server.
func startSites(t *testing.T, sites []string, extra ...string) *testCluster {
	t.Helper()
	return startClusterWith(t, len(sites), func(i int) []string { return []string{"--site", sites[i]} }, extra...)
}

// waitSpread polls GET /v1/cluster until every node is a Raft server,
// alive, and the sites hold want voters (in ascending order: 1,2,2 is
// 2-2-1 in any order of sites); it returns that status.
func (c *testCluster) waitSpread(want []int, timeout time.Duration) peers.ClusterStatus {
	c.t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		st, err := c.status(c.nodes[0])
		if err == nil && spreadAs(st, want, len(c.nodes)) {
			return st
		}
		last = fmt.Sprintf("%+v %+v %v", st.Raft, st.Sites, err)
		time.Sleep(200 * time.Millisecond) // polling interval
	}
	c.t.Fatalf("voters not spread as %v after %v; last status: %s", want, timeout, last)
	return peers.ClusterStatus{}
}

func spreadAs(st peers.ClusterStatus, want []int, nodes int) bool {
	if st.Raft.Leader == "" || len(st.Raft.Voters)+len(st.Raft.NonVoters) != nodes {
		return false
	}
	var got []int
	for _, s := range st.Sites {
		if s.Alive != len(s.Members) {
			return false
		}
		got = append(got, len(s.Voters))
	}
	slices.Sort(got)
	return slices.Equal(got, want)
}

// TestCluster_VotersSpreadAcrossSites: three sites of two nodes (each
// started with --site), three voters: the leader makes one node of each
// site a voter, the others non-voters, and GET /v1/cluster and `ucgrid
// cluster status` show every member's site and each site's voter.
func TestCluster_VotersSpreadAcrossSites(t *testing.T) {
	sites := []string{"munich", "hamburg", "berlin", "munich", "hamburg", "berlin"}
	start := time.Now()
	c := startSites(t, sites)
	st := c.waitSpread([]int{1, 1, 1}, clusterStart)
	t.Logf("voters spread over three sites %v after start: %v", time.Since(start).Round(time.Millisecond), st.Sites)
	for i, m := range st.Members {
		if want := sites[slices.IndexFunc(c.nodes, func(cn *clusterNode) bool { return cn.name == m.Node })]; m.Site != want {
			t.Errorf("member %d %s: site %q, want %q", i, m.Node, m.Site, want)
		}
	}
	for _, s := range st.Sites {
		if len(s.Members) != 2 || len(s.NonVoters) != 1 {
			t.Errorf("site %+v: want two members, one voter, one non-voter", s)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"cluster", "status", "--http", c.nodes[4].http, "--password", testAdminPW}, &out, &errOut); code != 0 {
		t.Fatalf("cluster status: exit %d: %s", code, errOut.String())
	}
	t.Logf("ucgrid cluster status:\n%s", out.String())
	for _, s := range st.Sites {
		if want := fmt.Sprintf("site %s: voters %s; 2 of 2 members alive", s.Site, s.Voters[0]); !strings.Contains(out.String(), want) {
			t.Errorf("cluster status lacks %q", want)
		}
	}
	if !strings.Contains(out.String(), "SITE") || !strings.Contains(out.String(), "hamburg") {
		t.Errorf("cluster status lacks the SITE column")
	}
}

// TestCluster_FiveVotersOverThreeSites: with --raft-voters 5, three sites
// of two nodes hold 2-2-1 voters.
func TestCluster_FiveVotersOverThreeSites(t *testing.T) {
	c := startSites(t, []string{"munich", "hamburg", "berlin", "munich", "hamburg", "berlin"}, "--raft-voters", "5")
	st := c.waitSpread([]int{1, 2, 2}, clusterStart)
	if len(st.Raft.Voters) != 5 {
		t.Fatalf("voters %v, want five", st.Raft.Voters)
	}
	t.Logf("sites %+v", st.Sites)
}

// TestCluster_SiteLostAndBackMovesItsVoter: three sites of two nodes, 3
// voters 1-1-1; both nodes of a site without the leader are SIGKILLed:
// after --raft-dead-after they are removed and the two sites left hold
// the three voters 2-1; the site's nodes restart, rejoin, and the site
// gets its voter back (1-1-1) without an operator.
func TestCluster_SiteLostAndBackMovesItsVoter(t *testing.T) {
	sites := []string{"munich", "hamburg", "berlin", "munich", "hamburg", "berlin"}
	c := startSites(t, sites)
	st := c.waitSpread([]int{1, 1, 1}, clusterStart)
	leaderSite := sites[slices.IndexFunc(c.nodes, func(cn *clusterNode) bool { return cn.name == st.Raft.Leader })]
	lost := slices.IndexFunc(sites, func(s string) bool { return s != leaderSite && s != "munich" })
	var gone []*clusterNode
	for i, cn := range c.nodes {
		if sites[i] == sites[lost] {
			if err := cn.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cn.proc.wait(drainLimit)
			gone = append(gone, cn)
		}
	}
	killed := time.Now()
	var last string
	for deadline := time.Now().Add(clusterStart); ; {
		st, err := c.status(c.nodes[0])
		if err == nil && st.Raft.Leader != "" && len(st.Raft.Voters)+len(st.Raft.NonVoters) == 4 && votersBySite(st, sites[lost]) == "2-1" {
			t.Logf("site %s lost: voters 2-1 over the two left %v after the kill: %+v", sites[lost], time.Since(killed).Round(time.Millisecond), st.Sites)
			break
		}
		last = fmt.Sprintf("%+v %+v %v", st.Raft, st.Sites, err)
		if time.Now().After(deadline) {
			t.Fatalf("no 2-1 over the sites left after %v; last status: %s", clusterStart, last)
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
	back := time.Now()
	for _, cn := range gone {
		c.start(cn)
	}
	for _, cn := range gone {
		cn.proc.waitServing(clusterStart)
	}
	st = c.waitSpread([]int{1, 1, 1}, clusterStart)
	t.Logf("site %s back: 1-1-1 again %v after the restart: %+v", sites[lost], time.Since(back).Round(time.Millisecond), st.Sites)
}

// votersBySite is "2-1" when the sites other than skip hold 2 and 1
// voters and skip holds none.
func votersBySite(st peers.ClusterStatus, skip string) string {
	var counts []int
	for _, s := range st.Sites {
		if s.Site == skip {
			if len(s.Voters) > 0 {
				return "voters in " + skip
			}
			continue
		}
		counts = append(counts, len(s.Voters))
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	out := make([]string, len(counts))
	for i, n := range counts {
		out[i] = fmt.Sprint(n)
	}
	return strings.Join(out, "-")
}
