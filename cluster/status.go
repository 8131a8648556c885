package cluster

import (
	"time"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// MemberStatus is one node of the cluster as this node sees it, for status
// pages (GET /v1/cluster).
type MemberStatus struct {
	// Node is the node name.
	Node string `json:"node"`
	// GossipAddr is the memberlist address.
	GossipAddr string `json:"gossip_address"`
	// ActorAddr and ActorID are the node's actor remote address and actor
	// system ID; empty until its actor layer has started.
	ActorAddr string `json:"address,omitempty"`
	ActorID   string `json:"actor_id,omitempty"`
	// State is alive, left or failed; Since is when this node saw it begin.
	State membership.State `json:"state"`
	Since time.Time        `json:"since"`
	// Kinds are the grain kinds the node hosts.
	Kinds []string `json:"kinds,omitempty"`
	// RaftAddr and Roles come from the node's metadata.
	RaftAddr string   `json:"raft_address,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	// InTopology reports whether this node's actor cluster places grains on
	// the member. An alive member outside the topology is a client, has not
	// started its actor layer yet, or was blocked by protoactor-go after
	// being declared dead (it must restart its actor layer to return).
	InTopology bool `json:"in_topology"`
	// Error says why the member's metadata could not be read.
	Error string `json:"error,omitempty"`
}

// HasPeers reports whether another member is in this node's actor
// topology: someone who can take over its grains.
func (n *Node) HasPeers() bool {
	for _, m := range n.Members() {
		if m.Node != n.Name() && m.InTopology {
			return true
		}
	}
	return false
}

// Members returns the cluster's members, this node included, sorted by
// name. Left and failed members stay listed for a few minutes.
func (n *Node) Members() []MemberStatus {
	ms := n.ms.Members()
	out := make([]MemberStatus, len(ms))
	for i, m := range ms {
		out[i] = MemberStatus{
			Node:       m.Name,
			GossipAddr: m.Addr,
			ActorAddr:  m.Meta.ActorAddr,
			ActorID:    m.Meta.ActorID,
			State:      m.State,
			Since:      m.Since,
			Kinds:      m.Meta.Kinds,
			RaftAddr:   m.Meta.RaftAddr,
			Roles:      m.Meta.Roles,
			InTopology: m.Meta.ActorID != "" && n.provider.inTopology(m.Meta.ActorID),
		}
		if m.MetaErr != nil {
			out[i].Error = m.MetaErr.Error()
		}
	}
	return out
}
