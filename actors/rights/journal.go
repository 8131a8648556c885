package rights

// JournalQuery asks what a viewer may do with one journal entry.
type JournalQuery struct {
	Viewer string
	Owner  string // whose journal the entry is in
	// Private is true when the owner marked the call private. Nobody but the
	// owner may see a private entry, nor learn that it exists.
	Private bool
	// Support is true when the viewer holds a system role: they may read
	// entries that are not private, for problem analysis.
	Support bool
	// Groups must include every group the owner is a member of.
	Groups []*Group
}

// JournalAccess is what a viewer may do with a journal entry.
type JournalAccess struct {
	Read   bool
	Modify bool // mark private, annotate (Modify implies Read)
}

// Journal decides access to a journal entry:
//   - the owner may read and modify every entry of their own;
//   - nobody else sees a private entry;
//   - the leader and deputy of an active group with journal_leader_visible
//     read its members' entries;
//   - members of an active group with journal_group_visible read each
//     other's entries, and modify them where journal_modifiable is also set;
//   - holders of a system role read for support.
func Journal(q JournalQuery) JournalAccess {
	if q.Viewer == q.Owner {
		return JournalAccess{Read: true, Modify: true}
	}
	if q.Private {
		return JournalAccess{}
	}
	a := JournalAccess{Read: q.Support}
	for _, g := range q.Groups {
		if !g.Active || !g.HasMember(q.Owner) {
			continue
		}
		if g.JournalLeaderVisible && g.Leads(q.Viewer) {
			a.Read = true
		}
		if g.JournalGroupVisible && g.HasMember(q.Viewer) {
			a.Read = true
			a.Modify = a.Modify || g.JournalModifiable
		}
	}
	return a
}
