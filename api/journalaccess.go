package api

import "github.com/ucgrid/ucgrid/persistence/dirpb"

// journalAccess is what a caller may do with one user's journal
// (spec/group_options.tsv, seed 001). Nobody but the owner ever sees a
// private entry, not even that it exists.
type journalAccess struct {
	// read: the owner's non-private entries (all of them for self).
	read bool
	// modify: change the note of the entries read (private only for self).
	modify bool
	// self: the caller is the owner.
	self bool
	// via names where a non-owner's access comes from, for the audit log:
	// "leader:GROUP", "group:GROUP" or "support".
	via string
}

// journalAccessOf decides what caller may do with owner's journal, given
// owner's groups (with their settings), the ids of the groups caller is a
// member of and whether caller holds a system role:
//
//   - the owner reads and modifies everything;
//   - the leader or deputy of an active group with journal_leader_visible
//     of which owner is a member reads owner's entries;
//   - a member of an active group with journal_group_visible of which
//     owner is a member too reads them;
//   - such a group's journal_modifiable adds modifying to that reading;
//   - system roles read for support, and modify nothing.
func journalAccessOf(caller, owner string, system bool, ownerGroups []*dirpb.Group, callerGroups map[string]bool) journalAccess {
	if caller == owner {
		return journalAccess{read: true, modify: true, self: true}
	}
	var a journalAccess
	for _, g := range ownerGroups {
		if !g.GetActive() {
			continue
		}
		leads := g.GetLeader() == caller || g.GetDeputy() == caller
		via := ""
		switch {
		case leads && g.GetJournalLeaderVisible():
			via = "leader:" + g.GetId()
		case callerGroups[g.GetId()] && g.GetJournalGroupVisible():
			via = "group:" + g.GetId()
		default:
			continue
		}
		if !a.read || (!a.modify && g.GetJournalModifiable()) {
			a.via = via
		}
		a.read = true
		a.modify = a.modify || g.GetJournalModifiable()
	}
	if !a.read && system {
		a.read, a.via = true, "support"
	}
	return a
}

// shows reports whether an entry is visible under a: private entries only
// to their owner.
func (a journalAccess) shows(e *dirpb.JournalEntry) bool {
	return a.read && (a.self || !e.GetPrivate())
}
