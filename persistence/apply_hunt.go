package persistence

import (
	"maps"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// putHuntMemory merges a group's hunt memory into the stored one: the
// round-robin position is replaced when the command gives one, each
// member's last call keeps the later of the stored and the given time,
// and what it remembers of users who are no longer members is dropped.
// Merging makes an older write that arrives late harmless for the times,
// and makes a memory with nothing but the group id a write that changes
// nothing (the group grain's read barrier on activation, actors/group.go).
// The group must exist, so a write racing a DeleteGroup leaves nothing
// behind. It emits no Change: only the group's grain reads the record.
func (t *txn) putHuntMemory(m *dirpb.HuntMemory) error {
	if m == nil {
		return invalidf("hunt memory is missing")
	}
	if err := checkID("hunt memory group", m.GetGroup()); err != nil {
		return err
	}
	g, err := t.group(m.GetGroup())
	if err != nil {
		return withContext(err, "hunt memory")
	}
	if last := m.GetRoundRobinLast(); last != "" {
		if err := checkID("hunt memory round_robin_last", last); err != nil {
			return err
		}
	}
	old, err := orAbsent(t.huntMemory(m.GetGroup()))
	if err != nil {
		return err
	}
	merged := mergeHuntMemory(old, m, g)
	if old != nil && equalHuntMemory(old, merged) {
		return nil
	}
	return t.put(key(tHuntMemory, m.GetGroup()), merged)
}

// mergeHuntMemory is old (nil: none) with m merged in, kept to the
// members of g.
func mergeHuntMemory(old, m *dirpb.HuntMemory, g *dirpb.Group) *dirpb.HuntMemory {
	members := make(map[string]bool, len(g.GetMembers()))
	for _, mb := range g.GetMembers() {
		members[mb.GetUser()] = true
	}
	out := &dirpb.HuntMemory{Group: m.GetGroup(), RoundRobinLast: old.GetRoundRobinLast(), LastCallUnixMs: map[string]int64{}}
	if m.GetRoundRobinLast() != "" {
		out.RoundRobinLast = m.GetRoundRobinLast()
	}
	if !members[out.RoundRobinLast] {
		out.RoundRobinLast = ""
	}
	for _, src := range []map[string]int64{old.GetLastCallUnixMs(), m.GetLastCallUnixMs()} {
		for u, ms := range src {
			if members[u] && ms > out.LastCallUnixMs[u] {
				out.LastCallUnixMs[u] = ms
			}
		}
	}
	return out
}

// keepHuntMemoryTo drops from g's stored hunt memory what it remembers of
// users who are no longer members (a deleted user leaves no trace).
func (t *txn) keepHuntMemoryTo(g *dirpb.Group) error {
	old, err := orAbsent(t.huntMemory(g.GetId()))
	if err != nil || old == nil {
		return err
	}
	kept := mergeHuntMemory(old, &dirpb.HuntMemory{Group: g.GetId()}, g)
	if equalHuntMemory(old, kept) {
		return nil
	}
	return t.put(key(tHuntMemory, g.GetId()), kept)
}

func equalHuntMemory(a, b *dirpb.HuntMemory) bool {
	return a.GetRoundRobinLast() == b.GetRoundRobinLast() && maps.Equal(a.GetLastCallUnixMs(), b.GetLastCallUnixMs())
}

func (v view) huntMemory(group string) (*dirpb.HuntMemory, error) {
	return get(v, key(tHuntMemory, group), &dirpb.HuntMemory{}, "hunt memory of group", group)
}

// HuntMemory is what group's hunt strategies remember between calls
// (round-robin position, last call per member), as its group grain last
// stored it; ErrNotFound when it stored none.
func (s *Store) HuntMemory(group string) (*dirpb.HuntMemory, error) {
	return s.view().huntMemory(group)
}
