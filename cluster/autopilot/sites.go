package autopilot

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// A multi-site cluster deals its voters out across sites, so that losing
// one site (a WAN cut, a power failure) leaves a quorum elsewhere:
//
//   - three or more sites: no site holds a majority (3 voters over 3
//     sites 1-1-1, 5 over 3 sites 2-2-1, 3 over 4 sites 1-1-1-0); when the
//     sites' nodes do not allow that for the configured count (5 voters, a
//     big site and two sites of one node each), fewer voters are dealt (3,
//     1-1-1): a smaller quorum that survives any one site beats a bigger
//     one that dies with the big site;
//   - two sites: a majority in one of them cannot be avoided (3 voters are
//     2-1); the cluster survives losing the smaller site only — a third
//     site, even a single tie-breaker node, is what survives either;
//   - the count dealt is odd: an even count survives no more failures than
//     one voter fewer and needs a bigger quorum.
//
// Within a site the voters are, in order: the leader, the current voters
// (so a healthy plan is never reshuffled, and a failed voter keeps its
// place for the grace period exactly as in one site), then healthy
// members, the longest alive first, then by id. Extra voters (5 over 3
// sites) go to the sites that hold the most voters now, then the sites
// with the most healthy nodes, then the most nodes, then by name, so the
// plan is stable.
//
// Moving a voter is a promotion (or an addition) before a demotion, in
// the same step; a healthy voter is demoted only if the healthy voters
// left are still a quorum of the voters left.

// candidate is a server or a new member that can hold a voter slot.
type candidate struct {
	id, addr, site string
	server, voter  bool // in the Raft configuration; a voter there
	healthy        bool // its member is alive (the leader always is)
	readdressed    bool // re-added at a new address in this step: not moved now
	since          time.Time
	self           bool
}

// sitePool is what spread decides over: the candidates, and the voters
// of the configuration after removals.
type sitePool struct {
	cands []candidate
	// frozen is set when a voter's site is unknown (no member names it
	// and none did while this node led): no promotion or demotion until
	// it is back or removed.
	frozen                bool
	voters, healthyVoters int
}

// serverSites is the site of each server: from its gossip member, else
// the one remembered from an earlier step.
func serverSites(st State, servers []Server, members map[string]Member) map[string]string {
	out := map[string]string{}
	for _, s := range servers {
		if m, ok := members[s.ID]; ok {
			out[s.ID] = m.Site
		} else if site, ok := st.Sites[s.ID]; ok {
			out[s.ID] = site
		}
	}
	return out
}

// newSitePool collects the candidates; false when they name fewer than
// two sites (Step then follows the one-site policy).
func newSitePool(next State, in Input, kept []Server, members map[string]Member) (sitePool, bool) {
	var p sitePool
	have := map[string]bool{}
	for _, s := range kept {
		have[s.ID] = true
		c, eligible := serverCandidate(next, in, s, members)
		if s.Voter {
			p.voters++
			if c.healthy {
				p.healthyVoters++
			}
		}
		if _, known := next.Sites[s.ID]; !known {
			p.frozen = p.frozen || s.Voter
			continue
		}
		if eligible {
			p.cands = append(p.cands, c)
		}
	}
	for _, id := range sortedKeys(members) {
		m := members[id]
		if have[id] || m.Health != Alive || m.RaftAddr == "" || !sameCluster(in, m) {
			continue
		}
		p.cands = append(p.cands, candidate{id: id, addr: m.RaftAddr, site: m.Site, healthy: true, since: m.Since})
	}
	sites := map[string]bool{}
	for _, c := range p.cands {
		sites[c.site] = true
	}
	return p, len(sites) >= 2
}

// serverCandidate describes server s; false when it can hold no voter
// slot: a non-voter that is not healthy or is only a joining identity.
func serverCandidate(next State, in Input, s Server, members map[string]Member) (candidate, bool) {
	c := candidate{id: s.ID, addr: s.Addr, site: next.Sites[s.ID], server: true, voter: s.Voter, self: s.ID == in.Self}
	m, ok := members[s.ID]
	if ok {
		c.since = m.Since
	}
	promotable := c.self || (ok && m.Health == Alive && !m.Joining)
	c.healthy = c.self || (ok && m.Health == Alive)
	c.readdressed = !c.self && ok && m.Health == Alive && m.RaftAddr != "" && m.RaftAddr != s.Addr && sameCluster(in, m)
	return c, c.voter || promotable
}

// spread returns the additions, promotions and demotions that deal the
// voters out across the sites.
func spread(cfg Config, in Input, p sitePool) []Action {
	share := dealVoters(cfg.Voters, in.Self, p.cands)
	target := chooseVoters(share, p.cands)
	total := 0
	for _, n := range share {
		total += n
	}
	why := func(c candidate) string {
		return fmt.Sprintf("site %q: %d of %d voters over %d sites", c.site, share[c.site], total, len(share))
	}
	var acts []Action
	voters, healthy := p.voters, p.healthyVoters
	for _, c := range p.cands {
		switch {
		case c.server:
		case target[c.id] && !p.frozen:
			voters, healthy = voters+1, healthy+1
			acts = append(acts, Action{Kind: AddVoter, ID: c.id, Addr: c.addr, Reason: "new member; " + why(c)})
		default:
			acts = append(acts, Action{Kind: AddNonvoter, ID: c.id, Addr: c.addr, Reason: "new member; " + why(c)})
		}
	}
	if p.frozen {
		return acts
	}
	for _, c := range p.cands {
		if c.server && !c.voter && target[c.id] && !c.readdressed {
			voters, healthy = voters+1, healthy+1
			acts = append(acts, Action{Kind: Promote, ID: c.id, Reason: why(c)})
		}
	}
	for _, c := range demotions(p.cands, target) {
		if c.healthy && healthy-1 < (voters-1)/2+1 {
			continue // the healthy voters left would not be a quorum: next step
		}
		if c.healthy {
			healthy--
		}
		voters--
		acts = append(acts, Action{Kind: Demote, ID: c.id, Reason: why(c)})
	}
	return acts
}

// demotions lists the voters outside target, failed ones first, then by
// descending id (never the leader: it is always in target; not one
// re-added at a new address in this step: the next step moves it).
func demotions(cands []candidate, target map[string]bool) []candidate {
	var out []candidate
	for _, c := range cands {
		if c.voter && !target[c.id] && !c.self && !c.readdressed {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b candidate) int {
		return cmp.Or(cmpBool(a.healthy, b.healthy), cmp.Compare(b.id, a.id))
	})
	return out
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// siteInfo is one site as the deal sees it.
type siteInfo struct {
	name                      string
	capacity, healthy, voters int // candidates; healthy ones; current voters
	self                      bool
}

// dealVoters returns how many voters each site gets (every site with a
// candidate has an entry).
func dealVoters(want int, self string, cands []candidate) map[string]int {
	sites := siteInfos(cands, self)
	capacity := 0
	for _, s := range sites {
		capacity += s.capacity
	}
	total := min(want, capacity)
	if total > 1 && total%2 == 0 {
		total--
	}
	for {
		share := dealOut(total, sites)
		if len(sites) < 3 || total <= 2 || 2*maxShare(share) <= total {
			return share
		}
		total -= 2
	}
}

// siteInfos lists the sites in dealing order: most current voters, the
// leader's, most healthy candidates, most candidates, then by name.
func siteInfos(cands []candidate, self string) []siteInfo {
	byName := map[string]*siteInfo{}
	for _, c := range cands {
		s := byName[c.site]
		if s == nil {
			s = &siteInfo{name: c.site}
			byName[c.site] = s
		}
		s.capacity++
		if c.healthy {
			s.healthy++
		}
		if c.voter {
			s.voters++
		}
		if c.id == self {
			s.self = true
		}
	}
	out := make([]siteInfo, 0, len(byName))
	for _, s := range byName {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b siteInfo) int {
		return cmp.Or(cmp.Compare(b.voters, a.voters), cmpBool(b.self, a.self), cmp.Compare(b.healthy, a.healthy),
			cmp.Compare(b.capacity, a.capacity), cmp.Compare(a.name, b.name))
	})
	return out
}

// dealOut gives the leader's site its voter, then deals the rest one at
// a time to the site with the fewest so far that has candidates left,
// ties in the order of sites.
func dealOut(total int, sites []siteInfo) map[string]int {
	share := map[string]int{}
	n := 0
	for _, s := range sites {
		share[s.name] = 0
		if s.self && total > 0 {
			share[s.name], n = 1, 1
		}
	}
	for n < total {
		best := -1
		for i, s := range sites {
			if share[s.name] < s.capacity && (best < 0 || share[s.name] < share[sites[best].name]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		share[sites[best].name]++
		n++
	}
	return share
}

func maxShare(share map[string]int) int {
	m := 0
	for _, n := range share {
		m = max(m, n)
	}
	return m
}

// chooseVoters picks share[site] candidates of each site: the leader,
// current voters, healthy ones, the longest alive, then by id.
func chooseVoters(share map[string]int, cands []candidate) map[string]bool {
	ranked := slices.Clone(cands)
	slices.SortFunc(ranked, func(a, b candidate) int {
		return cmp.Or(cmpBool(b.self, a.self), cmpBool(b.voter, a.voter), cmpBool(b.healthy, a.healthy),
			a.since.Compare(b.since), cmp.Compare(a.id, b.id))
	})
	target := map[string]bool{}
	taken := map[string]int{}
	for _, c := range ranked {
		if taken[c.site] < share[c.site] {
			taken[c.site]++
			target[c.id] = true
		}
	}
	return target
}
