package node

import (
	"errors"
	"fmt"

	"github.com/ucgrid/ucgrid/persistence"
)

// ErrSiteMismatch is returned by Start when the cluster recorded this
// node's name in another site than its --site (Config.Site): a node does
// not move between sites by a changed flag, since its grains, voters and
// phones were laid out for the recorded one.
var ErrSiteMismatch = errors.New("node: site differs from the one the cluster recorded")

// checkSite refuses to go on when the directory copy records this node in
// another site. Start runs it on the copy as opened (a restart) and again
// once the node has caught up with its cluster (a node joining under a
// name the cluster knows).
func (s *Node) checkSite() error {
	rec, err := s.dir.Store().SiteNode(s.dir.ID())
	if errors.Is(err, persistence.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: read the recorded site of %q: %w", s.dir.ID(), err)
	}
	if rec.Site == s.cfg.Site {
		return nil
	}
	return fmt.Errorf("%w: --site %q, but the cluster recorded node %q in site %q; start it with --site %s (to move a node to another site, remove it and join it under a new name)",
		ErrSiteMismatch, s.cfg.Site, s.dir.ID(), rec.Site, rec.Site)
}
