package peers

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// siteWriteTimeout bounds one PutSiteNode of the leader.
const siteWriteTimeout = 5 * time.Second

// recordSites is the leader's part in keeping sites: it records the site
// of every alive member (by Raft id, from its gossip metadata) that the
// directory does not hold yet. The first record wins (PutSiteNode); a
// member gossiping another site than its record is logged once per site,
// and refuses to start itself (node.ErrSiteMismatch).
func (o *Ops) recordSites(ctx context.Context) {
	for _, m := range o.members() {
		if m.State != membership.StateAlive || m.MetaErr != nil || m.Meta.Site == "" ||
			slices.Contains(m.Meta.Roles, roleJoining) {
			continue
		}
		o.recordSite(ctx, raftID(m), m.Meta.Site)
	}
}

func (o *Ops) recordSite(ctx context.Context, id, site string) {
	rec, err := o.dir.Store().SiteNode(id)
	switch {
	case err == nil && rec.Site == site:
		return
	case err == nil:
		o.siteConflict(id, site, rec.Site)
		return
	case !errors.Is(err, persistence.ErrNotFound):
		o.log.Warn("sites: read a node's site", "node", id, "err", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, siteWriteTimeout)
	defer cancel()
	_, err = o.dir.Apply(wctx, &dirpb.Command{Op: &dirpb.Command_PutSiteNode{PutSiteNode: &dirpb.PutSiteNode{
		Node: &dirpb.SiteNode{Node: id, Site: site, FirstSeenUnix: time.Now().Unix()}}}})
	switch {
	case err == nil:
		o.log.Info("sites: node recorded in its site", "node", id, "site", site)
	case errors.Is(err, persistence.ErrConflict):
		o.siteConflict(id, site, "")
	default:
		o.log.Warn("sites: record a node's site", "node", id, "site", site, "err", err)
	}
}

// siteConflict logs, once per node and site, a member that gossips a site
// other than its recorded one.
func (o *Ops) siteConflict(id, site, recorded string) {
	key := id + "\x00" + site
	if _, seen := o.siteConflicts.LoadOrStore(key, true); seen {
		return
	}
	o.log.Warn("sites: a node gossips another site than the cluster recorded for it; it refuses to start until its --site is the recorded one",
		"node", id, "site", site, "recorded", recorded)
}
