package membership

import (
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// State is a member's state as this node last heard it.
type State string

const (
	// StateAlive: the member answers probes (or is suspected but has not
	// yet been declared dead: memberlist does not report suspicion).
	StateAlive State = "alive"
	// StateLeft: the member announced that it was leaving.
	StateLeft State = "left"
	// StateFailed: the member was declared dead by failure detection.
	StateFailed State = "failed"
)

// departedRetention is how long a left or failed member stays in Members,
// so that status pages show recent departures.
const departedRetention = 5 * time.Minute

// Member is one node as seen through gossip.
type Member struct {
	// Name is the member's memberlist node name.
	Name string
	// Addr is the member's gossip address, IP:port.
	Addr string
	// State is alive, left or failed.
	State State
	// Since is when this node saw State begin.
	Since time.Time
	// Meta is the member's decoded metadata; zero if MetaErr is set.
	Meta Meta
	// MetaErr is why Meta could not be decoded (e.g. ErrMetaVersion from a
	// newer node), or nil.
	MetaErr error
}

func (m Member) clone() Member {
	m.Meta = m.Meta.clone()
	return m
}

// memberFromNode copies what we need from n. It runs inside memberlist's
// event callbacks, where n may only be read until the callback returns.
func memberFromNode(n *memberlist.Node, state State, now time.Time) Member {
	meta, err := DecodeMeta(n.Meta)
	return Member{
		Name:    n.Name,
		Addr:    n.Address(),
		State:   state,
		Since:   now,
		Meta:    meta,
		MetaErr: err,
	}
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
}
