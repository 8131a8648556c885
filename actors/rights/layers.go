package rights

// Grant is what one layer gives a viewer: a standard level, or individual
// rights chosen one by one.
type Grant struct {
	Set Set
	// Individual is true when the rights were chosen one by one rather than
	// as a level. An admin preset of individual rights locks the pair against
	// changes by the target (CheckUserGrant).
	Individual bool
	// Until is when the grant ends (unix seconds; 0: never). The engine
	// does not read the clock: whoever assembles a Pair leaves out what
	// ended and drops the Pair by then (dirrights.Target.Until). Explain
	// reports it.
	Until int64
}

// LevelGrant is a grant of a standard level.
func LevelGrant(l Level) Grant { return Grant{Set: LevelSet(l)} }

// RightsGrant is a grant of individual rights.
func RightsGrant(s Set) Grant { return Grant{Set: s, Individual: true} }

// Level returns the standard level the grant equals, or Special.
func (g Grant) Level() Level { return g.Set.Level() }

// Group is what the rights engine needs to know of a group.
type Group struct {
	ID     string
	Active bool // group settings apply only while the group is active
	// Members are the group's member user ids. Leader and deputy need not be
	// among them.
	Members map[string]struct{}
	Leader  string // "" when none
	Deputy  string // "" when none
	// MemberGrant is what members hold over each other.
	MemberGrant Grant
	// LeaderGrant is what leader and deputy hold over the members, on top of
	// everything else.
	LeaderGrant Grant
	// MemberUntil holds when a membership ends (unix seconds), for the
	// members with an end; DeputyUntil when the deputy's does (0: never).
	// Like Grant.Until, informational: ended ones are left out already.
	MemberUntil map[string]int64
	DeputyUntil int64
	Services    ServiceSet
	// Journal options (spec/group_options.tsv).
	JournalLeaderVisible bool
	JournalGroupVisible  bool
	JournalModifiable    bool
}

// HasMember reports whether user is a member of g.
func (g *Group) HasMember(user string) bool {
	_, ok := g.Members[user]
	return ok
}

// Leads reports whether user is g's leader or deputy.
func (g *Group) Leads(user string) bool {
	return user != "" && (user == g.Leader || user == g.Deputy)
}

// Pair is everything the engine needs to decide what Viewer may see and do
// of Target. The caller gathers it from the directory.
type Pair struct {
	Viewer, Target string
	Global         Grant
	// Groups must include every group the target is a member of; other
	// groups are ignored, so passing more is harmless.
	Groups []*Group
	Preset *Grant // admin preset from target to viewer; nil when none
	User   *Grant // the target's own grant to the viewer; nil when none
}

// Effective returns the union of the five layers for p: what p.Viewer holds
// over p.Target. A user holds every right over themself.
func Effective(p *Pair) Set {
	if p.Viewer == p.Target {
		return All
	}
	s := p.Global.Set
	for _, g := range p.Groups {
		if !g.Active || !g.HasMember(p.Target) {
			continue
		}
		if g.HasMember(p.Viewer) {
			s |= g.MemberGrant.Set
		}
		if g.Leads(p.Viewer) {
			s |= g.LeaderGrant.Set
		}
	}
	if p.Preset != nil {
		s |= p.Preset.Set
	}
	if p.User != nil {
		s |= p.User.Set
	}
	return s
}

// CheckUserGrant decides whether a target may change their own grant to a
// viewer, given the admin preset for that pair (nil when none). Users can
// only add to a preset level, which the union already guarantees; but where
// the administrator preset individual rights, only an administrator may
// change the pair: ErrPresetLocked.
func CheckUserGrant(preset *Grant) error {
	if preset != nil && preset.Individual {
		return ErrPresetLocked
	}
	return nil
}
