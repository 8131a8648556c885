package cluster

import (
	"fmt"
	"testing"

	actorcluster "github.com/asynkron/protoactor-go/cluster"
)

func twoSites() []Candidate {
	k := []string{"user", "line"}
	return []Candidate{
		{Addr: "10.0.1.1:7000", Site: "munich", Kinds: k},
		{Addr: "10.0.1.2:7000", Site: "munich", Kinds: k},
		{Addr: "10.0.2.1:7000", Site: "hamburg", Kinds: k},
		{Addr: "10.0.2.2:7000", Site: "hamburg", Kinds: k},
	}
}

func siteOfAddr(ms []Candidate, addr string) string {
	for _, m := range ms {
		if m.Addr == addr {
			return m.Site
		}
	}
	return "?"
}

func TestPlaceOwner_HomeSiteFallbackAndReturn(t *testing.T) {
	all := twoSites()
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("user-%d", i)
		home := PlaceOwner(all, "user", id, "munich")
		if siteOfAddr(all, home) != "munich" {
			t.Fatalf("%s homed in munich placed on %s (%s)", id, home, siteOfAddr(all, home))
		}
		hamburgOnly := all[2:]
		fallback := PlaceOwner(hamburgOnly, "user", id, "munich")
		if fallback == "" || siteOfAddr(all, fallback) != "hamburg" {
			t.Fatalf("%s: with munich down placed on %q, want a hamburg node", id, fallback)
		}
		if back := PlaceOwner(all, "user", id, "munich"); back != home {
			t.Fatalf("%s: after munich returned placed on %s, want %s again", id, back, home)
		}
		oneBack := append([]Candidate{all[1]}, hamburgOnly...)
		if got := PlaceOwner(oneBack, "user", id, "munich"); got != all[1].Addr {
			t.Fatalf("%s: with one munich node back placed on %s, want %s", id, got, all[1].Addr)
		}
	}
}

func TestPlaceOwner_Cases(t *testing.T) {
	all := twoSites()
	for _, tc := range []struct {
		name, kind, home string
		members          []Candidate
		wantSite         string // "" = no owner
		anySite          bool
	}{
		{name: "no members", kind: "user", home: "munich", members: nil},
		{name: "kind hosted nowhere", kind: "group", home: "munich", members: all},
		{name: "no home site: any node", kind: "user", home: "", members: all, anySite: true},
		{name: "unknown home site: any node", kind: "user", home: "paris", members: all, anySite: true},
		{name: "home site", kind: "line", home: "hamburg", members: all, wantSite: "hamburg"},
		{name: "home site without the kind: any node with it", kind: "group", home: "munich",
			members: append(twoSites(), Candidate{Addr: "10.0.2.3:7000", Site: "hamburg", Kinds: []string{"group"}}), wantSite: "hamburg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlaceOwner(tc.members, tc.kind, "alice", tc.home)
			switch {
			case tc.wantSite == "" && !tc.anySite && got != "":
				t.Fatalf("owner = %q, want none", got)
			case tc.anySite && got == "":
				t.Fatal("no owner, want one")
			case tc.wantSite != "" && siteOfAddr(tc.members, got) != tc.wantSite:
				t.Fatalf("owner = %q in %q, want site %q", got, siteOfAddr(tc.members, got), tc.wantSite)
			}
		})
	}
}

// Without sites, placement is protoactor-go's rendezvous hashing: a
// cluster upgraded to this version keeps every grain where it was.
func TestPlaceOwner_WithoutSitesMatchesDisthash(t *testing.T) {
	var members []*actorcluster.Member
	var cands []Candidate
	for i := 0; i < 5; i++ {
		m := &actorcluster.Member{Id: fmt.Sprint(i), Host: "127.0.0.1", Port: int32(7000 + i), Kinds: []string{"user"}}
		members = append(members, m)
		cands = append(cands, Candidate{Addr: m.Address(), Kinds: m.Kinds})
	}
	rdv := actorcluster.NewRendezvous()
	rdv.UpdateMembers(members)
	for i := 0; i < 500; i++ {
		id := fmt.Sprintf("u%d", i)
		want := rdv.GetByClusterIdentity(&actorcluster.ClusterIdentity{Kind: "user", Identity: id})
		if got := PlaceOwner(cands, "user", id, ""); got != want {
			t.Fatalf("%s: owner %s, disthash %s", id, got, want)
		}
	}
}

// Every order of the same members gives the same owner.
func TestPlaceOwner_IndependentOfMemberOrder(t *testing.T) {
	all := twoSites()
	rev := []Candidate{all[3], all[2], all[1], all[0]}
	for i := 0; i < 200; i++ {
		id := fmt.Sprint("g", i)
		for _, home := range []string{"", "munich", "hamburg"} {
			if a, b := PlaceOwner(all, "user", id, home), PlaceOwner(rev, "user", id, home); a != b {
				t.Fatalf("%s home %q: %s vs %s by order", id, home, a, b)
			}
		}
	}
}
