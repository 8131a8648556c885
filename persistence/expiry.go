package persistence

import (
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Expiry of grants, presets, memberships and deputies (until_unix). Two
// mechanisms make an end take effect:
//
//   - the typed reads of Store leave out whatever ended at or before the
//     store's clock (Config.Now), so every reader (rights, group calls,
//     monitor, journal visibility, pickup) stops counting it at that
//     instant, before any sweep;
//   - the leader's sweep (sweep.go) proposes ExpireGrants{now} at the
//     earliest until, and the FSM deletes what ended as the same changes
//     a manual revocation makes, so caches and watchers are told.
//
// The FSM checks only the shape of an until (not negative, representable
// in RFC 3339): whether it is in the past depends on the proposer's clock,
// and the FSM must apply the same on every node.

// Kinds of rows in the expiry index (tExpiry).
const (
	expiryGrant  = 'g' // id: target, user: viewer (user layer)
	expiryPreset = 'p' // id: target, user: viewer (admin preset)
	expiryMember = 'm' // id: group, user: member
	expiryDeputy = 'd' // id: group, user: deputy
)

// maxUntilUnix is the first second RFC 3339 cannot write (year 10000).
const maxUntilUnix = 253402300800

// ended reports whether something with until (0: no end) has ended at now.
func ended(until, now int64) bool { return until != 0 && until <= now }

// checkUntil rejects an until no reader could show: negative or past
// year 9999. Whether it is in the past is the proposer's business.
func checkUntil(field string, until int64) error {
	if until < 0 || until >= maxUntilUnix {
		return invalidf("%s=%d is not a time between 1970 and 9999", field, until)
	}
	return nil
}

func expiryKey(until int64, kind byte, id, user string) []byte {
	return key(tExpiry, timeKey(until)+string(kind)+id, user)
}

// expiryBound ends the index range of what ends at or before now.
func expiryBound(now int64) []byte { return []byte(tExpiry + timeKey(now+1)) }

// expiryRow is one parsed row of the expiry index.
type expiryRow struct {
	kind     byte
	id, user string
}

// parseExpiryKey splits an index key; false for a malformed one.
func parseExpiryKey(k []byte) (expiryRow, bool) {
	rest := k[len(tExpiry):]
	if len(rest) < 10 {
		return expiryRow{}, false
	}
	kind, rest := rest[8], rest[9:]
	for i, c := range rest {
		if c == sep {
			return expiryRow{kind: kind, id: string(rest[:i]), user: string(rest[i+1:])}, true
		}
	}
	return expiryRow{}, false
}

func grantExpiryKind(layer Layer) byte {
	if layer == LayerPreset {
		return expiryPreset
	}
	return expiryGrant
}

// expireGrants ends everything whose until is at or before now: grants
// and presets are deleted, members removed and deputies cleared, each
// with the change a manual revocation emits. Only the index is read, so
// the cost is that of what is due; a second apply finds nothing.
func (t *txn) expireGrants(now int64) error {
	var rows []expiryRow
	var keys [][]byte
	err := t.scan([]byte(tExpiry), expiryBound(now), func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		if r, ok := parseExpiryKey(k); ok {
			rows = append(rows, r)
		}
		return nil // a malformed index key is only deleted
	})
	if err != nil {
		return err
	}
	// Every row up to now goes, stale or malformed ones too, so that the
	// sweep that proposed this command does not find them again.
	if err := t.del(keys...); err != nil {
		return err
	}
	var groups []string
	for _, r := range rows {
		switch r.kind {
		case expiryGrant, expiryPreset:
			layer := LayerUser
			if r.kind == expiryPreset {
				layer = LayerPreset
			}
			if err := t.expireGrant(layer, r.id, r.user, now); err != nil {
				return err
			}
		case expiryMember, expiryDeputy:
			if !slices.Contains(groups, r.id) {
				groups = append(groups, r.id)
			}
		}
	}
	for _, id := range groups {
		if err := t.expireInGroup(id, now); err != nil {
			return err
		}
	}
	return nil
}

// expireGrant deletes the grant target gives viewer in layer when it has
// ended at now (an index row of a grant since replaced is stale).
func (t *txn) expireGrant(layer Layer, target, viewer string, now int64) error {
	byTarget, _ := layer.tables()
	g, err := orAbsent(t.grant(byTarget, target, viewer))
	if err != nil || g == nil || !ended(g.UntilUnix, now) {
		return err
	}
	return t.removeGrant(layer, target, viewer)
}

// expireInGroup removes the group's members whose membership ended at now
// and clears its deputy when the deputyship ended.
func (t *txn) expireInGroup(id string, now int64) error {
	old, err := orAbsent(t.group(id))
	if err != nil || old == nil {
		return err
	}
	g := cloneGroup(old)
	g.Members = slices.DeleteFunc(g.Members, func(m *dirpb.Member) bool { return ended(m.UntilUnix, now) })
	if g.Deputy != "" && ended(g.DeputyUntilUnix, now) {
		g.Deputy, g.DeputyUntilUnix = "", 0
	}
	if len(g.Members) == len(old.Members) && g.Deputy == old.Deputy {
		return nil
	}
	if err := t.writeGroup(old, g); err != nil {
		return err
	}
	if err := t.keepHuntMemoryTo(g); err != nil {
		return err
	}
	t.emit(Change{Kind: KindGroup, ID: id, Users: groupUsers(old, g)})
	return nil
}

// Now is the store's clock (Config.Now): what the typed reads take as the
// present when they leave out what ended.
func (s *Store) Now() time.Time { return s.now() }

// NextExpiry returns the earliest until in the directory (unix seconds),
// false when nothing has one. One seek.
func (s *Store) NextExpiry() (int64, bool, error) {
	var until int64
	found := false
	err := s.view().scan([]byte(tExpiry), prefixEnd([]byte(tExpiry)), func(k, _ []byte) error {
		u, err := parseTimeKey(k[len(tExpiry):])
		if err != nil {
			return err
		}
		until, found = u, true
		return errStop
	})
	return until, found, err
}

// liveGroup drops from g (a fresh copy) the members whose membership
// ended at now, and the deputy when the deputyship ended.
func liveGroup(g *dirpb.Group, now int64) *dirpb.Group {
	if g == nil {
		return nil
	}
	g.Members = slices.DeleteFunc(g.Members, func(m *dirpb.Member) bool { return ended(m.UntilUnix, now) })
	if g.Deputy != "" && ended(g.DeputyUntilUnix, now) {
		g.Deputy, g.DeputyUntilUnix = "", 0
	}
	return g
}

// liveGrants leaves out the entries whose grant ended at now.
func liveGrants(es []GrantEntry, now int64) []GrantEntry {
	return slices.DeleteFunc(es, func(e GrantEntry) bool { return ended(e.Grant.GetUntilUnix(), now) })
}
