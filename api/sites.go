package api

import (
	"slices"
	"strings"

	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/persistence"
)

// homeSite decides the home site a user or group PUT stores. in is the
// body's "site" (nil: omitted); old is the stored one. Omitted keeps the
// stored site, and a new record without one takes the site of this node
// (HandlerConfig.Site). "" means no home site: any node hosts the grains.
// Setting another site than that default needs a system role, and the
// site must be one some node is recorded in (or this node's own): a typo
// would otherwise put the grains on no site and fall back silently.
func (h *Handler) homeSite(sub roles.Subject, in *string, old string, isNew bool) (string, error) {
	def := old
	if isNew {
		def = h.cfg.Site
	}
	if in == nil || *in == def {
		return def, nil
	}
	site := *in
	if !sub.IsSystem() {
		return "", forbidden("site: a home site is set by system roles")
	}
	if err := persistence.CheckSite("site", site); err != nil {
		return "", invalid("site", "%q: use letters, digits and -, at most 32, starting with a letter or digit", clip(site))
	}
	if site == "" || site == h.cfg.Site {
		return site, nil
	}
	known, err := h.store.Sites()
	if err != nil {
		return "", err
	}
	if !slices.Contains(known, site) {
		return "", invalid("site", "%q: no node runs in this site (known sites: %s); start a node with --site %s first", site, siteList(known, h.cfg.Site), site)
	}
	return site, nil
}

// siteList names the known sites for an error message.
func siteList(known []string, own string) string {
	if own != "" && !slices.Contains(known, own) {
		known = append(slices.Clone(known), own)
		slices.Sort(known)
	}
	if len(known) == 0 {
		return "none"
	}
	return strings.Join(known, ", ")
}
