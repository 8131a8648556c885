package membership

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"
)

// awaitProbesEnd registers a cleanup, run after the nodes' shutdowns,
// that waits until memberlist's probe goroutines have ended: memberlist's
// Shutdown does not wait for a probe in flight, which with the WAN
// timing may wait out a whole 1 s interval, longer than goleak retries.
func awaitProbesEnd(t *testing.T) {
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		buf := make([]byte, 1<<20)
		for time.Now().Before(deadline) {
			n := runtime.Stack(buf, true)
			if !bytes.Contains(buf[:n], []byte("memberlist.(*Memberlist).probeNode")) {
				return
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	})
}

// inSite returns a Config mutation that puts the node in site.
func inSite(site string, more func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Meta.Site = site
		if more != nil {
			more(c)
		}
	}
}

// startSites starts a1 and a2 in site "a", b1 and b2 in site "b", all
// seeded with a1's gossip address only, and waits until every node sees
// every other alive.
func startSites(t *testing.T, mutate func(*Config)) map[string]*Membership {
	t.Helper()
	awaitProbesEnd(t)
	a1 := startNode(t, "a1", nil, inSite("a", mutate))
	seeds := []string{a1.LocalAddr()}
	nodes := map[string]*Membership{
		"a1": a1,
		"a2": startNode(t, "a2", seeds, inSite("a", mutate)),
		"b1": startNode(t, "b1", seeds, inSite("b", mutate)),
		"b2": startNode(t, "b2", seeds, inSite("b", mutate)),
	}
	all := []*Membership{nodes["a1"], nodes["a2"], nodes["b1"], nodes["b2"]}
	for name := range nodes {
		waitFor(t, 5*time.Second, name+" alive everywhere", allSee(all, name, StateAlive))
	}
	return nodes
}

// siteMembers returns the names m's site pool sees alive.
func siteMembers(m *Membership) map[string]bool {
	out := make(map[string]bool)
	for _, mem := range m.siteD.snapshot(time.Now()) {
		if mem.State == StateAlive {
			out[mem.Name] = true
		}
	}
	return out
}

func TestSites_EachSiteHasItsOwnPoolJoinedThroughTheClusterSeeds(t *testing.T) {
	nodes := startSites(t, nil)
	// b1 and b2 were seeded with a1 only (another site): they found each
	// other's site pool through the cluster pool's metadata.
	for name, want := range map[string]string{"a1": "a1 a2", "a2": "a1 a2", "b1": "b1 b2", "b2": "b1 b2"} {
		name, want := name, want
		waitFor(t, 3*time.Second, name+"'s site pool = "+want, func() bool {
			got := siteMembers(nodes[name])
			return len(got) == 2 && got[want[:2]] && got[want[3:]]
		})
	}
	for _, mem := range nodes["b1"].Members() {
		if mem.Addr != nodes[mem.Name].LocalAddr() {
			t.Errorf("b1 sees %s at %s, want its cluster gossip address %s", mem.Name, mem.Addr, nodes[mem.Name].LocalAddr())
		}
		if mem.Meta.SiteGossipAddr != nodes[mem.Name].SiteAddr() || mem.Meta.SiteGossipAddr == "" {
			t.Errorf("b1 sees %s's site pool at %q, want %q", mem.Name, mem.Meta.SiteGossipAddr, nodes[mem.Name].SiteAddr())
		}
	}

	// SetMeta without the site fields keeps them, and the new metadata
	// reaches both sites.
	if err := nodes["a2"].SetMeta(context.Background(), Meta{ActorID: "sys-a2"}); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	if got := nodes["a2"].Meta(); got.Site != "a" || got.SiteGossipAddr != nodes["a2"].SiteAddr() {
		t.Errorf("after SetMeta a2's meta = %+v, want site a and its site pool address kept", got)
	}
	waitFor(t, 3*time.Second, "a2's new meta on a1 and b1", func() bool {
		for _, n := range []*Membership{nodes["a1"], nodes["b1"]} {
			for _, mem := range n.Members() {
				if mem.Name == "a2" && (mem.Meta.ActorID != "sys-a2" || mem.Meta.Site != "a") {
					return false
				}
			}
		}
		return true
	})
}

func TestSites_KilledNodeIsDeadInItsSiteWithinTheLANBoundAndLaterEverywhere(t *testing.T) {
	nodes := startSites(t, nil)
	waitFor(t, 3*time.Second, "a1 and a2 in one site pool", func() bool { return siteMembers(nodes["a1"])["a2"] })
	if err := nodes["a2"].Shutdown(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	took := waitFor(t, 5*time.Second, "a2 failed on a1", allSee([]*Membership{nodes["a1"]}, "a2", StateFailed))
	t.Logf("failure of a2 detected in its site in %v", took)
	if took > 2*time.Second {
		t.Errorf("detection inside the site took %v, want at most 2s", took)
	}
	others := []*Membership{nodes["b1"], nodes["b2"]}
	waitFor(t, 20*time.Second, "a2 failed on b1 and b2", allSee(others, "a2", StateFailed))
	t.Logf("failure of a2 known in the other site after %v (WAN timing)", time.Since(start))
}

func TestSites_GracefulLeaveIsSeenAsLeftInBothSites(t *testing.T) {
	nodes := startSites(t, nil)
	waitFor(t, 3*time.Second, "a1 and a2 in one site pool", func() bool { return siteMembers(nodes["a1"])["a2"] })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := nodes["a2"].Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitFor(t, 3*time.Second, "a2 left on a1, b1, b2",
		allSee([]*Membership{nodes["a1"], nodes["b1"], nodes["b2"]}, "a2", StateLeft))
}

func TestSites_ClusterPoolUsesWANTimingSitePoolLANTiming(t *testing.T) {
	c := DefaultConfig("n1")
	c.Meta.Site = "munich"
	c = c.WithDefaults()
	cluster, site := c.memberlistConfig(nil), c.siteMemberlistConfig(nil)
	if cluster.ProbeTimeout != c.WANProbeTimeout || cluster.SuspicionMult != c.WANSuspicionMult || cluster.Label != "ucgrid" {
		t.Errorf("cluster pool: timeout %v mult %d label %q, want WAN timing and the cluster label", cluster.ProbeTimeout, cluster.SuspicionMult, cluster.Label)
	}
	if site.ProbeTimeout != c.ProbeTimeout || site.BindPort != 7947 || site.Label != "ucgrid/site/munich" {
		t.Errorf("site pool: timeout %v port %d label %q, want LAN timing on port 7947 with the site label", site.ProbeTimeout, site.BindPort, site.Label)
	}
	c.Meta.Site = ""
	if one := c.memberlistConfig(nil); one.ProbeTimeout != c.ProbeTimeout || one.ProbeInterval != c.ProbeInterval {
		t.Errorf("without sites the one pool has timeout %v interval %v, want the LAN timing", one.ProbeTimeout, one.ProbeInterval)
	}
}
