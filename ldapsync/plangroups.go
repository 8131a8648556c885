package ldapsync

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// groupEntry is a group entry mapped: its id, name, direct member users
// and member groups (normalised DNs).
type groupEntry struct {
	e       Entry
	id      string
	name    string
	users   map[string]bool
	sub     []string
	primary string
	site    *string // nil: the mapping names no site attribute
}

func (p *planner) planGroups(entries []Entry) {
	groups, byDN := p.mapGroups(entries)
	p.directMembers(groups, byDN)
	if p.c.Groups.Nested {
		p.reportCycles(groups, byDN)
	}
	seen := map[string]bool{}
	for _, g := range groups {
		seen[g.id] = true
		members := g.users
		if p.c.Groups.Nested {
			members = expand(g, byDN)
		}
		p.planGroup(g, members)
	}
	for _, id := range sortedKeys(p.cur.Groups) {
		old := p.cur.Groups[id]
		if old.Synced == nil || old.Synced.Gone || seen[id] {
			continue
		}
		nu := proto.Clone(old).(*dirpb.Group)
		nu.Synced.Gone = true
		p.add(OpDisable, KindGroup, id, old.Synced.Dn, []string{"synced.gone"}, p.stamp(KindGroup, nu))
	}
}

// mapGroups reads the group entries' ids and names; duplicates and
// invalid ones are reported and skipped.
func (p *planner) mapGroups(entries []Entry) ([]*groupEntry, map[string]*groupEntry) {
	m := p.c.Groups
	var out []*groupEntry
	byDN := map[string]*groupEntry{}
	firstDN := map[string]string{}
	for _, e := range entries {
		id, err := entryID(e, m.ID)
		if err != nil {
			p.problem(e.DN, "%v", err)
			continue
		}
		if dn, dup := firstDN[id]; dup {
			p.problem(e.DN, "duplicate group id %q (also %s): skipped", id, dn)
			continue
		}
		firstDN[id] = e.DN
		name := strings.TrimSpace(e.First(m.Name))
		if err := api.CheckText("name", name); err != nil {
			p.problem(e.DN, "%v: skipped", err)
			continue
		}
		g := &groupEntry{e: e, id: id, name: name, users: map[string]bool{}}
		if m.Site != "" {
			site, err := mappedSite(m.Site, e)
			if err != nil {
				p.problem(e.DN, "%v: skipped", err)
				continue
			}
			g.site = &site
		}
		if m.PrimaryKey != "" {
			g.primary = e.First(m.PrimaryKey)
		}
		out = append(out, g)
		byDN[normDN(e.DN)] = g
	}
	return out, byDN
}

// directMembers fills each group's member users and groups, from the
// groups' member attribute or the people's memberOf, and the people
// whose primary group it is.
func (p *planner) directMembers(groups []*groupEntry, byDN map[string]*groupEntry) {
	m := p.c.Groups
	if m.FromMemberOf {
		for id, e := range p.users {
			for _, dn := range e.Attrs["memberof"] {
				if g := byDN[normDN(dn)]; g != nil {
					g.users[id] = true
				}
			}
		}
	} else {
		for _, g := range groups {
			for _, dn := range g.e.Attrs[strings.ToLower(m.Member)] {
				n := normDN(dn)
				if id, ok := p.userByDN[n]; ok {
					g.users[id] = true
				} else if _, ok := byDN[n]; ok {
					g.sub = append(g.sub, n)
				}
			}
		}
	}
	for id := range p.users {
		if g := p.primaryGroup(id, groups); g != nil {
			g.users[id] = true
		}
	}
}

// primaryGroup is the group whose primary key the person's primary group
// attribute names, if any.
func (p *planner) primaryGroup(user string, groups []*groupEntry) *groupEntry {
	if p.c.Users.PrimaryGroup == "" || p.c.Groups.PrimaryKey == "" {
		return nil
	}
	v := p.users[user].First(p.c.Users.PrimaryGroup)
	if v == "" {
		return nil
	}
	for _, g := range groups {
		if g.primary != "" && strings.EqualFold(g.primary, v) {
			return g
		}
	}
	return nil
}

// reportCycles reports each group that is, through other groups, a
// member of itself, naming the DNs of the cycle.
func (p *planner) reportCycles(groups []*groupEntry, byDN map[string]*groupEntry) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(dn string)
	visit = func(dn string) {
		color[dn] = grey
		stack = append(stack, dn)
		for _, sub := range byDN[dn].sub {
			switch color[sub] {
			case grey:
				i := slices.Index(stack, sub)
				path := make([]string, 0, len(stack)-i+1)
				for _, d := range stack[i:] {
					path = append(path, byDN[d].e.DN)
				}
				path = append(path, byDN[sub].e.DN)
				p.problem(byDN[sub].e.DN, "group cycle: %s (members are taken once, the cycle is not followed)", strings.Join(path, " → "))
			case white:
				visit(sub)
			}
		}
		stack = stack[:len(stack)-1]
		color[dn] = black
	}
	for _, g := range groups {
		if dn := normDN(g.e.DN); color[dn] == white {
			visit(dn)
		}
	}
}

// expand returns the users of g and of every group below it, each group
// visited once (so a cycle ends).
func expand(g *groupEntry, byDN map[string]*groupEntry) map[string]bool {
	out := map[string]bool{}
	visited := map[string]bool{normDN(g.e.DN): true}
	queue := []*groupEntry{g}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for u := range cur.users {
			out[u] = true
		}
		for _, sub := range cur.sub {
			if !visited[sub] {
				visited[sub] = true
				queue = append(queue, byDN[sub])
			}
		}
	}
	return out
}

func (p *planner) planGroup(g *groupEntry, members map[string]bool) {
	old := p.cur.Groups[g.id]
	if old != nil && old.Synced == nil && !p.c.AdoptExisting {
		p.problem(g.e.DN, "group %q exists and was not made by the sync: left alone (adopt_existing: true takes it over)", g.id)
		return
	}
	// A new group is what the API makes of a bare one: no call group.
	nu := &dirpb.Group{Id: g.id, Active: p.c.Groups.ActivateNew, CreatedUnix: p.now,
		CallGroup: &dirpb.CallGroup{Mode: dirpb.ModeDisabled, Strategy: dirpb.StrategyRingAll}}
	if old != nil {
		nu = proto.Clone(old).(*dirpb.Group)
	}
	nu.Name = g.name
	if g.site != nil {
		nu.HomeSite = *g.site
	}
	nu.Members = p.mergeMembers(g, nu.Members, members)
	nu.Synced = &dirpb.SyncSource{Dn: g.e.DN, SyncedUnix: old.GetSynced().GetSyncedUnix()}
	p.put(KindGroup, g.id, g.e.DN, old, nu)
}

// mergeMembers keeps the members added by hand as they are, keeps the
// synced members still in the server's group (their role, ring delay
// and log-out kept), drops the others and appends the new ones.
func (p *planner) mergeMembers(g *groupEntry, old []*dirpb.Member, want map[string]bool) []*dirpb.Member {
	out := make([]*dirpb.Member, 0, len(want)+len(old))
	have := map[string]bool{}
	for _, m := range old {
		if m.Synced && !want[m.User] {
			continue
		}
		have[m.User] = true
		if m.Synced {
			m.Primary = p.isPrimary(m.User, g)
		}
		out = append(out, m)
	}
	for _, u := range sortedKeys(want) {
		if !have[u] {
			out = append(out, &dirpb.Member{User: u, Role: "user", Synced: true, Primary: p.isPrimary(u, g)})
		}
	}
	return out
}

func (p *planner) isPrimary(user string, g *groupEntry) bool {
	if g.primary == "" || p.c.Users.PrimaryGroup == "" {
		return false
	}
	return strings.EqualFold(p.users[user].First(p.c.Users.PrimaryGroup), g.primary)
}

// planLines maps each managed person's phone attribute to a line they
// own, and marks gone the synced lines no person has any more.
func (p *planner) planLines() {
	seen := map[string]bool{}
	for _, id := range sortedKeys(p.users) {
		e := p.users[id]
		raw := strings.TrimSpace(e.First(p.c.Lines.Attribute))
		if raw == "" {
			continue
		}
		number, err := lineNumber(raw, p.c.Lines.Digits)
		if err == nil {
			err = api.CheckNumber(p.c.Lines.Attribute, number)
		}
		if err != nil {
			p.keepLines[id] = true
			p.problem(e.DN, "%v: no line", err)
			continue
		}
		if seen[number] {
			p.problem(e.DN, "line %s is also another person's %s: skipped", number, p.c.Lines.Attribute)
			continue
		}
		seen[number] = true
		p.planLine(number, id, e)
	}
	for _, n := range sortedKeys(p.cur.Lines) {
		old := p.cur.Lines[n]
		if old.Synced == nil || old.Synced.Gone || seen[n] || p.keepLines[old.Owner] {
			continue
		}
		nu := proto.Clone(old).(*dirpb.Line)
		nu.Synced.Gone = true
		p.add(OpDisable, KindLine, n, old.Synced.Dn, []string{"synced.gone"}, p.stamp(KindLine, nu))
	}
}

func (p *planner) planLine(number, owner string, e Entry) {
	old := p.cur.Lines[number]
	if old != nil && old.Synced == nil && !p.c.AdoptExisting {
		p.problem(e.DN, "line %s exists and was not made by the sync: left alone (adopt_existing: true takes it over)", number)
		return
	}
	nu := &dirpb.Line{Number: number, CreatedUnix: p.now}
	if old != nil {
		nu = proto.Clone(old).(*dirpb.Line)
	}
	nu.Owner = owner
	nu.Synced = &dirpb.SyncSource{Dn: e.DN, SyncedUnix: old.GetSynced().GetSyncedUnix()}
	p.put(KindLine, number, e.DN, old, nu)
}

// lineNumber turns a phone attribute into a line number: separators
// dropped, and with digits > 0 only the last digits digits kept.
func lineNumber(raw string, digits int) (string, error) {
	var b strings.Builder
	for i, r := range raw {
		switch {
		case r >= '0' && r <= '9', r == '+' && i == 0:
			b.WriteRune(r)
		case strings.ContainsRune(" -./()", r):
		default:
			return "", &lineErr{raw}
		}
	}
	n := b.String()
	if digits > 0 {
		d := strings.TrimPrefix(n, "+")
		if len(d) < digits {
			return "", &lineErr{raw}
		}
		n = d[len(d)-digits:]
	}
	return n, nil
}

type lineErr struct{ raw string }

func (e *lineErr) Error() string {
	return "phone number " + `"` + clip(e.raw) + `"` + " is not a number"
}
