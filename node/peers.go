package node

import (
	"context"

	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/cluster/peers"
)

// newPeers makes the node's part in its Raft cluster (cluster/peers)
// from the node's directory, link, addresses, secret and actor layer.
func (s *Node) newPeers() (*peers.Ops, error) {
	return peers.New(peers.Config{
		Dir: s.dir, Link: s.link, PeerTLS: s.http.PeerTLSConfig(), HTTPAddr: s.http.Addr(),
		GossipAddr: s.cfg.GossipAddr, Seeds: s.cfg.Join, StartGossip: s.startGossip,
		Secret: s.cfg.ClusterSecret, Voters: s.cfg.RaftVoters, DeadGrace: s.cfg.RaftDeadGrace,
		ReadyTimeout: s.cfg.ReadyTimeout, Actors: layerActors{s}, Logger: s.cfg.Logger,
	})
}

// startGossip starts a gossip identity of this node (the joining one,
// peers.Config.StartGossip) once the gossip address is free.
func (s *Node) startGossip(ctx context.Context, name string, meta membership.Meta) (*membership.Membership, error) {
	if err := checkGossipAddrs(s.cfg); err != nil {
		return nil, err
	}
	return membership.Start(ctx, s.gossipConfig(name, meta))
}

// layerActors is the node's current actor layer as cluster/peers sees it
// (peers.Actors).
type layerActors struct{ s *Node }

// Local reports the layer's topology and the grains it hosts by kind.
func (l layerActors) Local() (peers.LocalActors, bool) {
	a := l.s.layer()
	if a == nil || a.deps == nil {
		return peers.LocalActors{}, false
	}
	members := a.node.Members()
	grains := map[string]int{}
	for _, m := range members {
		if m.Node != a.node.Name() {
			continue
		}
		for _, k := range m.Kinds {
			if k != "prototopic" {
				grains[k] = a.deps.Count(k)
			}
		}
	}
	return peers.LocalActors{ActorID: a.node.ActorID(), Members: members, Grains: grains}, true
}

// Restart restarts the actor layer under a new identity (restartActors).
func (l layerActors) Restart(ctx context.Context) (*membership.Membership, error) {
	if err := l.s.restartActors(ctx); err != nil {
		return nil, err
	}
	return l.s.layer().node.Membership(), nil
}
