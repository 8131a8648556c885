package ldapsync

import (
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestMakePlan_HomeSitesFromTheMappedAttribute(t *testing.T) {
	c := planConfig(t, "users:\n  site: l\ngroups:\n  site: businessCategory\n")
	g := group("muc", person("ann").DN)
	g.Attrs["businesscategory"] = []string{"munich"}
	s := &Snapshot{
		Users:  []Entry{person("ann", "l", "munich"), person("bob", "l", "Ham burg"), person("cy")},
		Groups: []Entry{g},
	}
	p := MakePlan(c, s, emptyDir(), now)
	sites := map[string]string{}
	for _, a := range p.Actions {
		if u := a.cmd.GetPutUser().GetUser(); u != nil {
			sites["user "+u.Id] = u.HomeSite
		}
		if g := a.cmd.GetPutGroup().GetGroup(); g != nil {
			sites["group "+g.Id] = g.HomeSite
		}
	}
	if sites["user ann"] != "munich" || sites["group muc"] != "munich" || sites["user cy"] != "" {
		t.Fatalf("home sites = %v; want ann and muc in munich, cy none", sites)
	}
	if _, planned := sites["user bob"]; planned || len(p.Problems) != 1 || !strings.Contains(p.Problems[0], "l (site)") {
		t.Fatalf("bob with a bad site: planned %v, problems %q; want skipped with a problem naming the attribute", planned, p.Problems)
	}
}

func TestMakePlan_WithoutSiteMappingHomeSitesStay(t *testing.T) {
	c := planConfig(t, "")
	cur := emptyDir()
	cur.Users["ann"] = &dirpb.User{Id: "ann", DisplayName: "Old name", HomeSite: "munich",
		Synced: &dirpb.SyncSource{Dn: person("ann").DN}, Contact: &dirpb.Contact{}}
	p := MakePlan(c, &Snapshot{Users: []Entry{person("ann")}}, cur, now)
	if len(p.Actions) != 1 || p.Actions[0].cmd.GetPutUser().GetUser().GetDisplayName() != "ANN" {
		t.Fatalf("plan %v: want ann's new display name", ops(p))
	}
	if got := p.Actions[0].cmd.GetPutUser().GetUser().GetHomeSite(); got != "munich" {
		t.Fatalf("a sync without a site mapping changed ann's home site to %q", got)
	}
}
