package persistence

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putSiteNode(node, site string, seen int64) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutSiteNode{PutSiteNode: &dirpb.PutSiteNode{
		Node: &dirpb.SiteNode{Node: node, Site: site, FirstSeenUnix: seen}}}}
}

func TestSiteNode_FirstRecordWinsAndAnotherSiteConflicts(t *testing.T) {
	n := newNode(t)
	if _, err := n.Store().SiteNode("n1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unrecorded node: err = %v, want ErrNotFound", err)
	}
	mustApply(t, n, putSiteNode("n1", "munich", 100))
	mustApply(t, n, putSiteNode("n2", "hamburg", 101))
	mustApply(t, n, putSiteNode("n3", "munich", 102))
	mustApply(t, n, putSiteNode("n1", "munich", 200)) // again: no change
	got, err := n.Store().SiteNode("n1")
	if err != nil || got.Site != "munich" || got.FirstSeenUnix != 100 {
		t.Fatalf("n1 = %v, %v; want munich first seen at 100", got, err)
	}
	if _, err := n.Apply(context.Background(), putSiteNode("n1", "hamburg", 300)); !errors.Is(err, ErrConflict) {
		t.Fatalf("n1 in another site: err = %v, want ErrConflict", err)
	}
	if got, _ := n.Store().SiteNode("n1"); got.GetSite() != "munich" {
		t.Fatalf("a refused record replaced n1's site: %v", got)
	}
	sites, err := n.Store().Sites()
	if err != nil || !slices.Equal(sites, []string{"hamburg", "munich"}) {
		t.Fatalf("Sites = %v, %v; want [hamburg munich]", sites, err)
	}
	nodes, err := n.Store().SiteNodes()
	if err != nil || len(nodes) != 3 {
		t.Fatalf("SiteNodes = %v, %v; want 3", nodes, err)
	}
}

func TestSiteNode_BadInputIsInvalid(t *testing.T) {
	n := newNode(t)
	for name, cmd := range map[string]*dirpb.Command{
		"missing":   {Op: &dirpb.Command_PutSiteNode{PutSiteNode: &dirpb.PutSiteNode{}}},
		"no node":   putSiteNode("", "munich", 1),
		"no site":   putSiteNode("n1", "", 1),
		"bad site":  putSiteNode("n1", "mün chen", 1),
		"long site": putSiteNode("n1", "a123456789012345678901234567890123", 1),
	} {
		if _, err := n.Apply(context.Background(), cmd); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestHomeSite_BadNameIsInvalid(t *testing.T) {
	n := newNode(t)
	u := &dirpb.User{Id: "alice", HomeSite: "-bad"}
	_, err := n.Apply(context.Background(), &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("user home_site %q: err = %v, want ErrInvalid", u.HomeSite, err)
	}
	g := &dirpb.Group{Id: "sales", HomeSite: "a b"}
	_, err = n.Apply(context.Background(), &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("group home_site %q: err = %v, want ErrInvalid", g.HomeSite, err)
	}
}
