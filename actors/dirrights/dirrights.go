// Package dirrights reads what the rights engine needs from the directory:
// it converts stored grants, groups and services into actors/rights values,
// and loads the rights-relevant slice of the directory around one target
// user, from which the engine answers for any viewer.
package dirrights

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Grant converts a stored grant. A nil or empty grant gives nothing (the
// blocked level's empty set).
func Grant(g *dirpb.Grant) (rights.Grant, error) {
	switch {
	case g.GetLevel() != "" && len(g.GetRights()) > 0:
		return rights.Grant{}, fmt.Errorf("dirrights: grant has both level %q and rights", g.GetLevel())
	case g.GetLevel() != "":
		l, err := rights.ParseLevel(g.GetLevel())
		if err != nil {
			return rights.Grant{}, fmt.Errorf("dirrights: %w", err)
		}
		return rights.LevelGrant(l), nil
	case len(g.GetRights()) > 0:
		m := make(map[string]any, len(g.GetRights()))
		for name, v := range g.GetRights() {
			m[name] = storedValue(v)
		}
		s, err := rights.SetFromMap(m)
		if err != nil {
			return rights.Grant{}, fmt.Errorf("dirrights: %w", err)
		}
		return rights.RightsGrant(s), nil
	}
	return rights.Grant{}, nil
}

// storedValue turns the stored string form ("true", "false" or a grade)
// into the JSON map form rights.SetFromMap reads.
func storedValue(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

// StoredGrant converts an engine grant back to the stored form: a level
// grant by name, individual rights as the map of rights held.
func StoredGrant(g rights.Grant) *dirpb.Grant {
	if !g.Individual {
		return &dirpb.Grant{Level: g.Set.Level().String()}
	}
	out := &dirpb.Grant{Rights: map[string]string{}}
	for _, r := range rights.AllRights() {
		if g.Set.Has(r) {
			out.Rights[r.Name()] = r.GradeName(g.Set.Grade(r))
		}
	}
	return out
}

// Group converts a stored group.
func Group(g *dirpb.Group) (*rights.Group, error) {
	member, err := Grant(g.GetMemberGrant())
	if err != nil {
		return nil, fmt.Errorf("dirrights: group %q member grant: %w", g.GetId(), err)
	}
	leader, err := Grant(g.GetLeaderGrant())
	if err != nil {
		return nil, fmt.Errorf("dirrights: group %q leader grant: %w", g.GetId(), err)
	}
	services, err := rights.ParseServices(g.GetServices())
	if err != nil {
		return nil, fmt.Errorf("dirrights: group %q: %w", g.GetId(), err)
	}
	rg := &rights.Group{
		ID: g.GetId(), Active: g.GetActive(), Leader: g.GetLeader(), Deputy: g.GetDeputy(),
		Members:     make(map[string]struct{}, len(g.GetMembers())),
		MemberGrant: member, LeaderGrant: leader, Services: services,
		JournalLeaderVisible: g.GetJournalLeaderVisible(),
		JournalGroupVisible:  g.GetJournalGroupVisible(),
		JournalModifiable:    g.GetJournalModifiable(),
	}
	for _, m := range g.GetMembers() {
		rg.Members[m.GetUser()] = struct{}{}
		if m.GetUntilUnix() != 0 {
			if rg.MemberUntil == nil {
				rg.MemberUntil = map[string]int64{}
			}
			rg.MemberUntil[m.GetUser()] = m.GetUntilUnix()
		}
	}
	if g.GetDeputy() != "" {
		rg.DeputyUntil = g.GetDeputyUntilUnix()
	}
	return rg, nil
}

// Target is the rights-relevant slice of the directory around one target
// user: enough to answer Effective for every viewer without reading the
// store again. It is immutable once loaded; reload it on a change that
// names the target (persistence.Change.Users) or on a global change.
type Target struct {
	ID             string
	Global         rights.Grant
	GlobalServices rights.ServiceSet
	// Groups are all groups the target is a member of, active or not.
	Groups  []*rights.Group
	Presets map[string]*rights.Grant // admin presets, by viewer
	Grants  map[string]*rights.Grant // the target's own grants, by viewer
	// Until is the earliest end (unix seconds) among the grants, presets,
	// memberships and deputyships loaded; 0 when none ends. The store
	// left out what had ended when it was read; a cache of the Target or
	// of what was computed from it must be dropped at Until (Expired).
	Until int64
}

// Expired reports whether something the target was loaded with has
// ended at now, so that it must be loaded again. A nil Target (no such
// user) does not expire.
func (t *Target) Expired(now time.Time) bool {
	return t != nil && t.Until != 0 && t.Until <= now.Unix()
}

// earliestEnd computes Until.
func (t *Target) earliestEnd() int64 {
	var until int64
	add := func(u int64) {
		if u != 0 && (until == 0 || u < until) {
			until = u
		}
	}
	for _, g := range t.Groups {
		for _, u := range g.MemberUntil {
			add(u)
		}
		add(g.DeputyUntil)
	}
	for _, layer := range []map[string]*rights.Grant{t.Presets, t.Grants} {
		for _, g := range layer {
			add(g.Until)
		}
	}
	return until
}

// LoadTarget reads the target's slice of the directory: the global layer,
// the groups the target belongs to, and the grants on the target of both
// grant layers, without what ended at the store's clock (Store.Now). All
// reads are index seeks.
func LoadTarget(st *persistence.Store, id string) (*Target, error) {
	t := &Target{ID: id}
	var err error
	if t.Global, t.GlobalServices, err = loadGlobal(st); err != nil {
		return nil, err
	}
	if t.Groups, err = loadGroups(st, id); err != nil {
		return nil, err
	}
	if t.Presets, err = loadGrants(st, persistence.LayerPreset, id); err != nil {
		return nil, err
	}
	if t.Grants, err = loadGrants(st, persistence.LayerUser, id); err != nil {
		return nil, err
	}
	t.Until = t.earliestEnd()
	return t, nil
}

// DefaultGlobal is the global layer of a directory where no administrator
// has set one: everyone sees everyone at the public level.
var DefaultGlobal = rights.LevelGrant(rights.Public)

func loadGlobal(st *persistence.Store) (rights.Grant, rights.ServiceSet, error) {
	g, err := st.Global()
	if err != nil {
		return rights.Grant{}, 0, fmt.Errorf("dirrights: global: %w", err)
	}
	grant := DefaultGlobal
	if g.GetGrant() != nil {
		grant, err = Grant(g.GetGrant())
	}
	if err != nil {
		return rights.Grant{}, 0, fmt.Errorf("dirrights: global: %w", err)
	}
	services, err := rights.ParseServices(g.GetServices())
	if err != nil {
		return rights.Grant{}, 0, fmt.Errorf("dirrights: global: %w", err)
	}
	return grant, services, nil
}

func loadGroups(st *persistence.Store, user string) ([]*rights.Group, error) {
	ms, err := st.GroupsOf(user)
	if err != nil {
		return nil, fmt.Errorf("dirrights: groups of %q: %w", user, err)
	}
	groups := make([]*rights.Group, 0, len(ms))
	for _, m := range ms {
		g, err := st.Group(m.Group)
		if err != nil {
			return nil, fmt.Errorf("dirrights: group %q: %w", m.Group, err)
		}
		rg, err := Group(g)
		if err != nil {
			return nil, err
		}
		groups = append(groups, rg)
	}
	return groups, nil
}

func loadGrants(st *persistence.Store, layer persistence.Layer, target string) (map[string]*rights.Grant, error) {
	entries, err := st.GrantsOn(layer, target)
	if err != nil {
		return nil, fmt.Errorf("dirrights: grants on %q: %w", target, err)
	}
	out := make(map[string]*rights.Grant, len(entries))
	for _, e := range entries {
		g, err := Grant(e.Grant)
		if err != nil {
			return nil, fmt.Errorf("dirrights: grant %q→%q: %w", e.Target, e.Viewer, err)
		}
		g.Until = e.Grant.GetUntilUnix()
		out[e.Viewer] = &g
	}
	return out, nil
}

// Pair is the engine input for viewer over the target.
func (t *Target) Pair(viewer string) *rights.Pair {
	return &rights.Pair{
		Viewer: viewer, Target: t.ID, Global: t.Global, Groups: t.Groups,
		Preset: t.Presets[viewer], User: t.Grants[viewer],
	}
}

// Holders answers "who holds right r over the target" without trying every
// user: everyone when the global layer gives it; otherwise exactly the
// viewers some layer names with r (sorted, the target included, since a
// user holds every right over themself).
func (t *Target) Holders(r rights.Right) (everyone bool, viewers []string) {
	if t.Global.Set.Has(r) {
		return true, nil
	}
	seen := map[string]struct{}{t.ID: {}}
	for _, g := range t.Groups {
		if !g.Active || !g.HasMember(t.ID) {
			continue
		}
		if g.MemberGrant.Set.Has(r) {
			for m := range g.Members {
				seen[m] = struct{}{}
			}
		}
		if g.LeaderGrant.Set.Has(r) {
			for _, l := range []string{g.Leader, g.Deputy} {
				if l != "" {
					seen[l] = struct{}{}
				}
			}
		}
	}
	for _, layer := range []map[string]*rights.Grant{t.Presets, t.Grants} {
		for v, g := range layer {
			if g.Set.Has(r) {
				seen[v] = struct{}{}
			}
		}
	}
	for v := range seen {
		viewers = append(viewers, v)
	}
	slices.Sort(viewers)
	return false, viewers
}

// Reach answers the reverse question of Holders, "over whom does viewer
// hold right r": everyone when the global layer gives it; otherwise
// exactly the targets some layer names viewer with r for (sorted, viewer
// included). It reads only the viewer's side of the directory: the groups
// they belong to or lead and the grants they hold.
func Reach(st *persistence.Store, viewer string, r rights.Right) (everyone bool, targets []string, err error) {
	global, _, err := loadGlobal(st)
	if err != nil {
		return false, nil, err
	}
	if global.Set.Has(r) {
		return true, nil, nil
	}
	seen := map[string]struct{}{viewer: {}}
	addMembers := func(ms []persistence.Membership, leader bool) error {
		for _, m := range ms {
			rec, err := st.Group(m.Group)
			if errors.Is(err, persistence.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			g, err := Group(rec)
			if err != nil {
				return err
			}
			grant := g.MemberGrant
			if leader {
				grant = g.LeaderGrant
			}
			if !g.Active || !grant.Set.Has(r) {
				continue
			}
			for member := range g.Members {
				seen[member] = struct{}{}
			}
		}
		return nil
	}
	in, err := st.GroupsOf(viewer)
	if err != nil {
		return false, nil, err
	}
	if err := addMembers(in, false); err != nil {
		return false, nil, err
	}
	led, err := st.GroupsLedBy(viewer)
	if err != nil {
		return false, nil, err
	}
	if err := addMembers(led, true); err != nil {
		return false, nil, err
	}
	for _, layer := range []persistence.Layer{persistence.LayerPreset, persistence.LayerUser} {
		held, err := st.GrantsHeldBy(layer, viewer)
		if err != nil {
			return false, nil, err
		}
		for _, e := range held {
			g, err := Grant(e.Grant)
			if err != nil {
				return false, nil, err
			}
			if g.Set.Has(r) {
				seen[e.Target] = struct{}{}
			}
		}
	}
	for t := range seen {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	return false, targets, nil
}

// LineKind is whose line rights apply to l: rights.PrimaryLine (line1_*)
// for its owner's primary line (dirpb.Line.IsPrimary), else
// rights.SecondaryLine (line2_*).
func LineKind(l *dirpb.Line) rights.LineKind {
	if l.IsPrimary() {
		return rights.PrimaryLine
	}
	return rights.SecondaryLine
}

// Forwarding is a line's stored forwarding as the line state holds it.
func Forwarding(l *dirpb.Line) linestate.Forwarding {
	f := l.GetForwarding()
	return linestate.Forwarding{Enabled: f.GetEnabled(), Destination: f.GetDestination(),
		Busy: f.GetOnBusy() != "", BusyDestination: f.GetOnBusy(),
		NoAnswer: f.GetOnNoAnswer() != "", NoAnswerDestination: f.GetOnNoAnswer(), NoAnswerS: int(f.GetNoAnswerTimeoutS())}
}

// ForwardingRecord is Forwarding's inverse: what SetLineForwarding stores.
func ForwardingRecord(f linestate.Forwarding) *dirpb.Forwarding {
	return &dirpb.Forwarding{Enabled: f.Enabled, Destination: f.Destination, OnBusy: f.BusyDestination,
		OnNoAnswer: f.NoAnswerDestination, NoAnswerTimeoutS: int32(f.NoAnswerS)}
}
