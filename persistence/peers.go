package persistence

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// DemoteVoter makes a voting member a non-voter (it keeps replicating).
// Leader only.
func (n *Node) DemoteVoter(ctx context.Context, id string) error {
	return n.membership(ctx, n.raft.DemoteVoter(raft.ServerID(id), 0, n.enqueueTimeout(ctx)))
}

// TransferLeadership hands leadership to the most up-to-date voter and
// waits until it has taken over (a graceful leave does this first, so the
// cluster need not wait for an election timeout). Leader only; a single
// voter has no one to hand over to and gets an error.
func (n *Node) TransferLeadership(ctx context.Context) error {
	if err := n.wait(ctx, n.raft.LeadershipTransfer()); err != nil {
		return fmt.Errorf("persistence: leadership transfer: %w", n.raftError(err))
	}
	return nil
}

// SoleServer reports whether this node is the only server of its Raft
// configuration (a cluster of one: it needs nobody to become ready). A
// fresh node waiting to be added, or a member of a larger cluster, is not.
func (n *Node) SoleServer() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	servers := f.Configuration().Servers
	return len(servers) == 1 && string(servers[0].ID) == n.nodeID
}

// AdoptClusterID records the id of the cluster a joining node has been
// added to. It fails when the node already belongs to another cluster; the
// same id again is a no-op.
func (n *Node) AdoptClusterID(id string) error {
	if err := checkID("ClusterID", id); err != nil {
		return fmt.Errorf("persistence: adopt cluster id: %w", err)
	}
	n.idMu.Lock()
	defer n.idMu.Unlock()
	switch n.clusterID {
	case id:
		return nil
	case "":
	default:
		return fmt.Errorf("persistence: data dir %q belongs to cluster %q, not %q: %w", n.cfg.Dir, n.clusterID, id, ErrInvalid)
	}
	if err := n.store.setNodeMeta(&dirpb.NodeMeta{NodeId: n.nodeID, ClusterId: id}); err != nil {
		return err
	}
	n.clusterID = id
	n.log.Info("persistence: joined cluster", "node", n.nodeID, "cluster", id)
	return nil
}

// RaftState returns this node's Raft state: "Follower", "Candidate",
// "Leader" or "Shutdown".
func (n *Node) RaftState() string { return n.raft.State().String() }

// CommitIndex returns the last Raft index this node knows to be committed.
func (n *Node) CommitIndex() uint64 { return n.raft.CommitIndex() }

// VerifyBackup reads a whole backup stream (as Backup writes it) and checks
// its format and checksum, returning the Raft index it holds.
func VerifyBackup(r io.Reader) (uint64, error) {
	hdr, err := verifySnapshot(r)
	if err != nil {
		return 0, err
	}
	return hdr.AppliedIndex, nil
}
