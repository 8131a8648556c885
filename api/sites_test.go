package api

import (
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func recordSite(e *env, node, site string) {
	e.t.Helper()
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutSiteNode{PutSiteNode: &dirpb.PutSiteNode{
		Node: &dirpb.SiteNode{Node: node, Site: site, FirstSeenUnix: 1}}}})
}

func TestHomeSite_DefaultsToTheNodesSiteAndIsKept(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.Site = "munich" })
	recordSite(e, "n2", "hamburg")
	admin := as("admin")
	var u userJSON
	e.must(201, admin, "PUT", "/v1/users/alice", map[string]any{"display_name": "Alice"}).json(t, &u)
	if u.Site == nil || *u.Site != "munich" {
		t.Fatalf("new user without site: site = %v, want munich (the node's)", u.Site)
	}
	e.must(200, admin, "PUT", "/v1/users/alice", map[string]any{"display_name": "Alice A."}).json(t, &u)
	if *u.Site != "munich" {
		t.Fatalf("PUT without site changed it to %q", *u.Site)
	}
	e.must(200, admin, "PUT", "/v1/users/alice", map[string]any{"display_name": "Alice", "site": "hamburg"}).json(t, &u)
	if stored, _ := e.node.Store().User("alice"); stored.GetHomeSite() != "hamburg" {
		t.Fatalf("stored home_site = %q, want hamburg", stored.GetHomeSite())
	}
	e.must(201, admin, "PUT", "/v1/users/bob", map[string]any{"site": ""}).json(t, &u)
	if *u.Site != "" {
		t.Fatalf("site \"\" (none) stored as %q", *u.Site)
	}
	var g groupJSON
	e.must(201, admin, "PUT", "/v1/groups/sales", map[string]any{"name": "Sales"}).json(t, &g)
	if g.Site == nil || *g.Site != "munich" {
		t.Fatalf("new group without site: site = %v, want munich", g.Site)
	}
	e.must(200, admin, "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "site": "hamburg"}).json(t, &g)
	if stored, _ := e.node.Store().Group("sales"); stored.GetHomeSite() != "hamburg" {
		t.Fatalf("stored group home_site = %q, want hamburg", stored.GetHomeSite())
	}
}

func TestHomeSite_UnknownSiteIs400NamingSite(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.Site = "munich" })
	recordSite(e, "n2", "hamburg")
	admin := as("admin")
	for _, tc := range []struct{ name, path, site, mentions string }{
		{"user, no node there", "/v1/users/carol", "paris", "hamburg, munich"},
		{"user, bad name", "/v1/users/carol", "pa ris", "letters"},
		{"group, no node there", "/v1/groups/g1", "Hamburg", "no node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(400, admin, "PUT", tc.path, map[string]any{"site": tc.site})
			if r.errCode() != codeInvalid || !strings.Contains(string(r.body), `"message":"site: `) || !strings.Contains(string(r.body), tc.mentions) {
				t.Fatalf("answer %s: want invalid naming site and %q", r, tc.mentions)
			}
		})
	}
	if _, err := e.node.Store().User("carol"); err == nil {
		t.Fatal("a refused user was stored")
	}
}

func TestHomeSite_SetBySystemRolesOnly(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.Site = "munich" })
	recordSite(e, "n2", "hamburg")
	e.seedUser("tina", "")
	r := e.must(403, as("tina"), "PUT", "/v1/users/tina", map[string]any{"display_name": "Tina", "site": "hamburg"})
	if !strings.Contains(string(r.body), "site") {
		t.Fatalf("answer %s does not name site", r)
	}
	e.must(200, as("tina"), "PUT", "/v1/users/tina", map[string]any{"display_name": "Tina T."})
}
