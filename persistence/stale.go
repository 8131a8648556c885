package persistence

import (
	"time"

	"github.com/hashicorp/raft"
)

// Staleness says whether this node's directory may be behind the cluster:
// it is not the leader and has not heard from one for longer than
// HeartbeatTimeout (by then Raft itself gives up on the leader and starts
// an election). A node cut off from the majority keeps serving reads from
// its local copy; the API marks them with how long ago the node last heard
// from a leader (age; since Open when it never did).
func (n *Node) Staleness() (age time.Duration, stale bool) {
	state := n.raft.State()
	if state == raft.Leader {
		return 0, false
	}
	last := n.raft.LastContact()
	if last.IsZero() {
		last = n.opened
	}
	age = time.Since(last)
	leader, _ := n.Leader()
	return age, leader == "" || age > n.cfg.HeartbeatTimeout
}

// cutOff reports whether the node has been without a leader for at least
// ForwardTimeout already: forwarding a write would only wait that long
// again before failing, so it fails at once.
func (n *Node) cutOff() bool {
	age, stale := n.Staleness()
	return stale && age >= n.cfg.ForwardTimeout
}
