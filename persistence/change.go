package persistence

// Kind names the record type a Change is about.
type Kind uint8

// Record kinds of a Change.
const (
	KindUser Kind = iota + 1
	KindGroup
	KindLine
	KindGrant  // user layer
	KindPreset // admin preset layer
	KindGlobal
	KindTrunk
	KindRegistration
	KindJournal
	KindChat     // ID is the message id (empty for purges); Users is empty
	KindToken    // a bearer token ended (revoked, dropped, purged): ID is its user; Users is empty
	KindDialPlan // the dial plan was replaced; ID and Users are empty

	kindCount // one more than the last kind
)

var kindNames = [...]string{
	KindUser: "user", KindGroup: "group", KindLine: "line", KindGrant: "grant",
	KindPreset: "preset", KindGlobal: "global", KindTrunk: "trunk",
	KindRegistration: "registration", KindJournal: "journal",
	KindChat: "chat", KindToken: "token", KindDialPlan: "dialplan",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Change is one effect of an applied command, delivered to subscribers in
// Raft index order. One command may yield several changes (deleting a user
// also changes its groups, grants and lines); they share the Index.
type Change struct {
	// Index is the Raft index of the command.
	Index uint64
	// Reset tells the subscriber to drop every cache derived from the
	// directory: changes were dropped because it fell behind (its buffer
	// was full), or the whole directory was replaced by a snapshot restore.
	// The other fields are zero.
	Reset bool

	Kind Kind
	// Deleted is true when the record was removed.
	Deleted bool
	// ID is the record's id: user, group, trunk or journal entry id; the
	// line number for KindLine and KindRegistration; the target for
	// KindGrant and KindPreset. Empty for KindGlobal and journal purges.
	ID string
	// Viewer is the viewer of a grant or preset.
	Viewer string
	// Contact is the contact URI of a registration.
	Contact string
	// Users are the users whose derived state may have changed (rights,
	// memberships, lines, journal): for a group, its members, leader and
	// deputy before and after the change. Empty for KindGlobal and
	// KindTrunk, which concern everyone.
	Users []string
}
