package persistence

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The typed read API. Every call is a point lookup or a prefix scan over
// one index (O(log n + results)); none scans a whole table except the
// List* calls, which page with a cursor. Returned messages are fresh copies
// the caller may keep and modify.

// Membership is one row of the membership indexes.
type Membership struct {
	Group string
	User  string
	// Role is the member's role ("user", "receptionist", ...), or "leader"
	// or "deputy" in GroupsLedBy.
	Role string
	// Primary marks the member's primary group (directory sync).
	Primary bool
	// Until ends the membership or deputyship (unix seconds; 0: no end).
	// The reads leave out rows that ended (Store.Now).
	Until int64
}

// Layer selects the grant table: the target's own grants or the admin presets.
type Layer uint8

const (
	// LayerUser is the user layer: grants a target gives a viewer.
	LayerUser Layer = iota + 1
	// LayerPreset is the admin preset layer: minimum grants set by an admin.
	LayerPreset
)

func (l Layer) tables() (byTarget, byViewer string) {
	if l == LayerPreset {
		return tPresetTarget, tPresetViewer
	}
	return tGrantByTarget, tGrantByViewer
}

// GrantEntry is a grant with the pair it belongs to.
type GrantEntry struct {
	Target, Viewer string
	Grant          *dirpb.Grant
}

// User returns the user with id, or ErrNotFound.
func (s *Store) User(id string) (*dirpb.User, error) { return s.view().user(id) }

// Group returns the group with id, or ErrNotFound. Members and a deputy
// whose until has passed are left out (expiry.go).
func (s *Store) Group(id string) (*dirpb.Group, error) {
	g, err := s.view().group(id)
	return liveGroup(g, s.now().Unix()), err
}

// Line returns the line with number, or ErrNotFound.
func (s *Store) Line(number string) (*dirpb.Line, error) { return s.view().line(number) }

// Trunk returns the trunk with id, or ErrNotFound.
func (s *Store) Trunk(id string) (*dirpb.Trunk, error) { return s.view().trunk(id) }

// Global returns the global settings (the zero value before any were set).
func (s *Store) Global() (*dirpb.Global, error) { return s.view().global() }

// GroupByNumber returns the group whose call-group number is number, or ErrNotFound.
func (s *Store) GroupByNumber(number string) (*dirpb.Group, error) {
	id, err := s.view().groupByNumber(number)
	if err != nil {
		return nil, err
	}
	return s.Group(id)
}

// GroupsOf returns the groups user is a member of, ordered by group id.
func (s *Store) GroupsOf(user string) ([]Membership, error) {
	return s.memberships(tUserGroups, user, func(id string, m *dirpb.Member) Membership {
		return Membership{Group: id, User: user, Role: m.Role, Primary: m.Primary, Until: m.UntilUnix}
	})
}

// MembersOf returns the members of group, ordered by user id.
func (s *Store) MembersOf(group string) ([]Membership, error) {
	return s.memberships(tGroupMembers, group, func(id string, m *dirpb.Member) Membership {
		return Membership{Group: group, User: id, Role: m.Role, Primary: m.Primary, Until: m.UntilUnix}
	})
}

// GroupsLedBy returns the groups where user is leader or deputy (Role
// "leader" or "deputy"), whether or not user is a member.
func (s *Store) GroupsLedBy(user string) ([]Membership, error) {
	return s.memberships(tUserLeads, user, func(id string, m *dirpb.Member) Membership {
		return Membership{Group: id, User: user, Role: m.Role, Until: m.UntilUnix}
	})
}

func (s *Store) memberships(table, id string, row func(string, *dirpb.Member) Membership) ([]Membership, error) {
	p := prefix(table, id)
	now := s.now().Unix()
	var out []Membership
	err := s.view().scanPrefix(p, func(k, val []byte) error {
		m, err := decode(k, val, &dirpb.Member{})
		if err == nil && ended(m.UntilUnix, now) {
			return nil
		}
		out = append(out, row(string(k[len(p):]), m))
		return err
	})
	return out, err
}

// Grant returns the grant target gives viewer in layer, or ErrNotFound
// (also when its until has passed).
func (s *Store) Grant(layer Layer, target, viewer string) (*dirpb.Grant, error) {
	byTarget, _ := layer.tables()
	g, err := s.view().grant(byTarget, target, viewer)
	if err == nil && ended(g.UntilUnix, s.now().Unix()) {
		return nil, notFoundf("grant %q (ended)", target+"→"+viewer)
	}
	return g, err
}

// GrantsOn returns every grant target gives in layer (who may see target),
// but those whose until has passed.
func (s *Store) GrantsOn(layer Layer, target string) ([]GrantEntry, error) {
	byTarget, _ := layer.tables()
	p := prefix(byTarget, target)
	var out []GrantEntry
	err := s.view().scanPrefix(p, func(k, val []byte) error {
		g, err := decode(k, val, &dirpb.Grant{})
		out = append(out, GrantEntry{Target: target, Viewer: string(k[len(p):]), Grant: g})
		return err
	})
	return liveGrants(out, s.now().Unix()), err
}

// GrantsHeldBy returns every grant viewer holds in layer (whom viewer may
// see), but those whose until has passed.
func (s *Store) GrantsHeldBy(layer Layer, viewer string) ([]GrantEntry, error) {
	byTarget, byViewer := layer.tables()
	v := s.view()
	targets, err := v.ids(prefix(byViewer, viewer))
	if err != nil {
		return nil, err
	}
	out := make([]GrantEntry, 0, len(targets))
	for _, t := range targets {
		g, err := v.grant(byTarget, t, viewer)
		if err != nil {
			return nil, err
		}
		out = append(out, GrantEntry{Target: t, Viewer: viewer, Grant: g})
	}
	return liveGrants(out, s.now().Unix()), nil
}

// LinesOf returns the lines owned by owner, ordered by number.
func (s *Store) LinesOf(owner string) ([]*dirpb.Line, error) {
	v := s.view()
	numbers, err := v.ids(prefix(tOwnerLines, owner))
	if err != nil {
		return nil, err
	}
	out := make([]*dirpb.Line, 0, len(numbers))
	for _, n := range numbers {
		l, err := v.line(n)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// RegistrationsExpiredAt reports whether an ExpireRegistrations at now
// would delete anything: a registration expiring at or before now.
func (s *Store) RegistrationsExpiredAt(now int64) (bool, error) {
	return s.view().anyIn([]byte(tRegExpiry), regExpiryBound(now))
}

// Registrations returns the registered contacts of line, expired ones
// included until an ExpireRegistrations command removes them: compare
// ExpiresAtUnix with the current time.
func (s *Store) Registrations(line string) ([]*dirpb.Registration, error) {
	return s.view().registrations(line)
}

// JournalEntry returns one journal entry by id, or ErrNotFound.
func (s *Store) JournalEntry(id string) (*dirpb.JournalEntry, error) {
	return s.view().journalEntry(id)
}

// JournalQuery selects journal entries of one owner by start time.
type JournalQuery struct {
	Owner string
	// FromUnix and ToUnix bound the start time: FromUnix <= start < ToUnix.
	// ToUnix 0 means no upper bound.
	FromUnix, ToUnix int64
	// Limit caps the number of entries; 0 means no limit.
	Limit int
	// Newest returns the newest entries first.
	Newest bool
}

// Journal returns the entries of q.Owner that started in [FromUnix, ToUnix).
func (s *Store) Journal(q JournalQuery) ([]*dirpb.JournalEntry, error) {
	p := prefix(tJournalOwner, q.Owner)
	lo := append(append([]byte(nil), p...), timeKey(q.FromUnix)...)
	hi := prefixEnd(p)
	if q.ToUnix != 0 {
		hi = append(append([]byte(nil), p...), timeKey(q.ToUnix)...)
	}
	var out []*dirpb.JournalEntry
	collect := func(k, val []byte) error {
		e, err := decode(k, val, &dirpb.JournalEntry{})
		out = append(out, e)
		if err == nil && q.Limit > 0 && len(out) >= q.Limit {
			return errStop
		}
		return err
	}
	if q.Newest {
		return out, s.view().scanReverse(lo, hi, collect)
	}
	return out, s.view().scan(lo, hi, collect)
}

// ListUsers returns up to limit users with ids after the cursor after
// ("" = from the start), and the cursor of the next page ("" at the end).
func (s *Store) ListUsers(after string, limit int) ([]*dirpb.User, string, error) {
	return list(s.view(), tUser, after, limit, func() *dirpb.User { return &dirpb.User{} })
}

// ListGroups pages through groups like ListUsers.
// Members and deputies whose until has passed are left out.
func (s *Store) ListGroups(after string, limit int) ([]*dirpb.Group, string, error) {
	gs, next, err := list(s.view(), tGroup, after, limit, func() *dirpb.Group { return &dirpb.Group{} })
	now := s.now().Unix()
	for _, g := range gs {
		liveGroup(g, now)
	}
	return gs, next, err
}

// ListLines pages through lines like ListUsers; the cursor is a line number.
func (s *Store) ListLines(after string, limit int) ([]*dirpb.Line, string, error) {
	return list(s.view(), tLine, after, limit, func() *dirpb.Line { return &dirpb.Line{} })
}

// ListTrunks pages through trunks like ListUsers.
func (s *Store) ListTrunks(after string, limit int) ([]*dirpb.Trunk, string, error) {
	return list(s.view(), tTrunk, after, limit, func() *dirpb.Trunk { return &dirpb.Trunk{} })
}

// maxPage bounds a List page so one admin request cannot pin the store.
const maxPage = 1000

func list[T proto.Message](v view, table, after string, limit int, newT func() T) ([]T, string, error) {
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	lo := []byte(table)
	if after != "" {
		lo = append(key(table, after), sep) // the smallest key after `after`
	}
	var out []T
	last, next := "", ""
	err := v.scan(lo, prefixEnd([]byte(table)), func(k, val []byte) error {
		if len(out) == limit {
			next = last
			return errStop
		}
		m, err := decode(k, val, newT())
		out, last = append(out, m), string(k[len(table):])
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("persistence: list %q: %w", table, err)
	}
	return out, next, nil
}
