package persistence

import (
	"slices"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// maxSiteLen bounds a site name (node.Config.Site allows the same).
const maxSiteLen = 32

// CheckSite rejects a site name that is not letters, digits and "-", at
// most 32 bytes, starting with a letter or digit. The empty name (the
// cluster's one site) is accepted. The error wraps ErrInvalid and names
// field.
func CheckSite(field, site string) error {
	if len(site) > maxSiteLen {
		return invalidf("%s=%q is longer than %d bytes", field, site, maxSiteLen)
	}
	for i, r := range site {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-' && i > 0:
		default:
			return invalidf("%s=%q: use letters, digits and -, starting with a letter or digit", field, site)
		}
	}
	return nil
}

// putSiteNode records the site a node runs in. The first record wins:
// the same site again changes nothing (first_seen_unix stays), another
// site is ErrConflict, so a node started with a wrong --site cannot move
// its name into another site by accident. It emits no change: the
// placement reads sites from gossip, this record only guards names and
// home sites.
func (t *txn) putSiteNode(n *dirpb.SiteNode) error {
	if n == nil {
		return invalidf("site node is missing")
	}
	if err := checkID("site node", n.Node); err != nil {
		return err
	}
	if n.Site == "" {
		return invalidf("site node %q: site is empty", n.Node)
	}
	if err := CheckSite("site", n.Site); err != nil {
		return err
	}
	old := &dirpb.SiteNode{}
	found, err := getProto(t.r, key(tSiteNode, n.Node), old)
	if err != nil {
		return err
	}
	switch {
	case found && old.Site == n.Site:
		return nil
	case found:
		return conflictf("node %q is recorded in site %q, not %q", n.Node, old.Site, n.Site)
	}
	return t.put(key(tSiteNode, n.Node), n)
}

// SiteNodes lists every node whose site the cluster recorded, by node id.
func (s *Store) SiteNodes() ([]*dirpb.SiteNode, error) {
	var all []*dirpb.SiteNode
	after := ""
	for {
		page, next, err := list(s.view(), tSiteNode, after, 0, func() *dirpb.SiteNode { return &dirpb.SiteNode{} })
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

// SiteNode returns the recorded site of node; ErrNotFound when none is.
func (s *Store) SiteNode(node string) (*dirpb.SiteNode, error) {
	n := &dirpb.SiteNode{}
	found, err := getProto(s.view().r, key(tSiteNode, node), n)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, notFoundf("site of node %q", node)
	}
	return n, nil
}

// Sites returns the sites some node is recorded with, each once, sorted.
func (s *Store) Sites() ([]string, error) {
	nodes, err := s.SiteNodes()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range nodes {
		if !seen[n.Site] {
			seen[n.Site] = true
			out = append(out, n.Site)
		}
	}
	slices.Sort(out)
	return out, nil
}
