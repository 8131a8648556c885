package cluster

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Two sites of two nodes: grains homed in site a live on an a node, serve
// from site b while a has no node, and move back when an a node returns.
func TestCluster_GrainsLiveInTheirHomeSite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five node processes")
	}
	a1, err := startChildIn(t, "a1", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	seeds := gossipSeeds(t, a1)
	rest := make([]*child, 3)
	for i, n := range []struct{ name, site string }{{"a2", "a"}, {"b1", "b"}, {"b2", "b"}} {
		if rest[i], err = startChildIn(t, n.name, n.site, seeds); err != nil {
			t.Fatal(err)
		}
	}
	a2, b1, b2 := rest[0], rest[1], rest[2]
	all := []*child{a1, a2, b1, b2}
	waitTopology(t, 10*time.Second, all, "a1", "a2", "b1", "b2")

	ids := make([]string, 8)
	for i := range ids {
		ids[i] = fmt.Sprintf("a.user-%d", i)
	}
	for _, via := range all {
		for _, id := range ids {
			if got := via.echo(t, id).Reply.Node; !strings.HasPrefix(got, "a") {
				t.Fatalf("grain %s homed in site a, asked through %s, is on %s", id, via.name, got)
			}
		}
	}
	for _, id := range []string{"b.user-0", "b.user-1", "b.user-2"} {
		if got := a1.echo(t, id).Reply.Node; !strings.HasPrefix(got, "b") {
			t.Fatalf("grain %s homed in site b is on %s", id, got)
		}
	}

	a1.kill(t)
	a2.kill(t)
	// Site b learns of site a's crash through the cluster pool's WAN
	// timing (docs/multisite.md: 7–10 s), not the 2 s of a site's own.
	waitTopology(t, 30*time.Second, []*child{b1, b2}, "b1", "b2")
	for _, id := range ids {
		if got := b1.echo(t, id).Reply.Node; !slices.Contains([]string{"b1", "b2"}, got) {
			t.Fatalf("with site a down, grain %s is on %s, want b1 or b2", id, got)
		}
	}

	// A node of site a returns (a new name: memberlist keeps a dead
	// node's name from being reclaimed at another address).
	a3, err := startChildIn(t, "a3", "a", gossipSeeds(t, b1))
	if err != nil {
		t.Fatal(err)
	}
	waitTopology(t, 10*time.Second, []*child{a3, b1, b2}, "a3", "b1", "b2")
	for _, id := range ids {
		waitFor(t, 5*time.Second, "grain "+id+" back on a3", func() bool {
			return b2.echo(t, id).Reply.Node == "a3"
		})
	}

	// Its home site changes (on every node, as a directory change does):
	// the grain moves without a topology change.
	moved := ids[0]
	for _, c := range []*child{a3, b1, b2} {
		if err := c.post("/home?id=" + moved + "&site=b"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "grain "+moved+" moved to site b", func() bool {
		return strings.HasPrefix(a3.echo(t, moved).Reply.Node, "b")
	})
}

// post sends an empty POST to the child's control endpoint.
func (c *child) post(path string) error {
	resp, err := httpClient.Post("http://"+c.http+path, "", nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", c.name, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", c.name, path, resp.Status)
	}
	return nil
}

// gossipSeeds are the gossip addresses c knows.
func gossipSeeds(t *testing.T, c *child) []string {
	t.Helper()
	var seeds []string
	for _, m := range c.members(t) {
		seeds = append(seeds, m.GossipAddr)
	}
	return seeds
}
