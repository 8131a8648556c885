package persistence

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ucgrid/ucgrid/cluster/peerlink"
	"github.com/ucgrid/ucgrid/cluster/pki/pkitest"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// openTLSNode opens node id with Raft on a mutual-TLS link of the CA in
// caDir; with caDir "", on plain TCP.
func openTLSNode(t testing.TB, caDir, id string, join bool) *Node {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.NodeID, cfg.NoBootstrap = id, join
	if caDir != "" {
		link, err := peerlink.Listen("127.0.0.1:0", "", pkitest.Bundle(t, caDir, id), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.RaftLayer = link.Raft()
	}
	// Raft's default timeouts: a handshake under -race on a shared machine
	// outlasts the 50 ms of testConfig, and a two-voter leader steps down.
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout, cfg.CommitTimeout = 0, 0, 0, 0
	if !join {
		return openNode(t, cfg)
	}
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

func TestNode_RaftOverMutualTLSReplicates(t *testing.T) {
	ca := t.TempDir()
	leader := openTLSNode(t, ca, "n1", false)
	follower := openTLSNode(t, ca, "n2", true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leader.AddVoter(ctx, "n2", follower.RaftAddr()); err != nil {
		t.Fatal(err)
	}
	index := mustApply(t, leader, putUser("bob"))
	if err := follower.WaitApplied(ctx, index); err != nil {
		t.Fatal(err)
	}
	if u, err := follower.Store().User("bob"); err != nil || u.GetId() != "bob" {
		t.Fatalf("follower: user bob = %v, %v", u, err)
	}
}

// forgeAppend sends target (a leader) an AppendEntries of a newer term
// that makes "mallory" system owner, as an attacker on the network would,
// over trans. A node that accepts it steps down, appends and applies it.
func forgeAppend(t *testing.T, trans raft.Transport, target *Node) error {
	t.Helper()
	data, err := marshal.Marshal(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{
		User: &dirpb.User{Id: "mallory", DisplayName: "Mallory", SystemRole: "system_owner"}}}})
	if err != nil {
		t.Fatal(err)
	}
	last, term := target.raft.LastIndex(), lastTerm(t, target)
	req := &raft.AppendEntriesRequest{
		RPCHeader:    raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("mallory"), Addr: []byte(trans.LocalAddr())},
		Term:         term + 1,
		PrevLogEntry: last, PrevLogTerm: term,
		Entries:           []*raft.Log{{Index: last + 1, Term: term + 1, Type: raft.LogCommand, Data: data}},
		LeaderCommitIndex: last + 1,
	}
	var resp raft.AppendEntriesResponse
	if err := trans.AppendEntries("n1", target.trans.LocalAddr(), req, &resp); err != nil {
		return err
	}
	if !resp.Success {
		return fmt.Errorf("append refused by raft (term %d)", resp.Term)
	}
	return nil
}

func lastTerm(t *testing.T, n *Node) uint64 {
	t.Helper()
	term, err := strconv.ParseUint(n.raft.Stats()["last_log_term"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return term
}

// Without TLS anyone reaching the Raft port appends entries (the control
// case, which shows the forged append is real); over mutual TLS a plain
// TCP peer and a peer with a certificate of another CA are refused and
// the directory is unchanged.
func TestNode_RaftOverMutualTLSRefusesStrangers(t *testing.T) {
	plainTCP := func(t *testing.T) raft.Transport {
		tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.CloseStreams(); _ = tr.Close() }) // pooled connections too: the node ends its reader of them
		return tr
	}
	ca := t.TempDir()
	otherCA := func(t *testing.T) raft.Transport {
		link, err := peerlink.Listen("127.0.0.1:0", "", pkitest.Stranger(t, ca, "n2"), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		tr := raft.NewNetworkTransport(link.Raft(), 1, time.Second, nil)
		t.Cleanup(func() { tr.CloseStreams(); _ = tr.Close() }) // pooled connections too: the node ends its reader of them
		return tr
	}
	t.Run("control: plain Raft takes a forged entry", func(t *testing.T) {
		n := newNode(t)
		if err := forgeAppend(t, plainTCP(t), n); err != nil {
			t.Fatalf("forged append against plain Raft failed: %v", err)
		}
		waitFor(t, "the forged entry to be applied", func() bool {
			u, err := n.store.User("mallory")
			return err == nil && u.GetSystemRole() == "system_owner"
		})
	})
	for name, attacker := range map[string]func(*testing.T) raft.Transport{"plain TCP": plainTCP, "certificate of another CA": otherCA} {
		t.Run(name, func(t *testing.T) {
			n := openTLSNode(t, ca, "n1", false)
			mustApply(t, n, putUser("bob"))
			before, applied := dump(t, n.store), n.Applied()
			if err := forgeAppend(t, attacker(t), n); err == nil {
				t.Fatal("the forged append was accepted")
			}
			// Raft applies what it accepted within milliseconds; a later
			// write shows the log moved on without the forged entry.
			mustApply(t, n, putUser("carol"))
			if _, err := n.store.User("mallory"); err == nil {
				t.Fatal("mallory was written")
			}
			if d := diffDumps(before, dump(t, n.store)); d == "" || n.Applied() != applied+1 {
				t.Fatalf("directory changed by more than carol (applied %d → %d):\n%s", applied, n.Applied(), d)
			}
			if !n.IsLeader() {
				t.Fatal("the node lost its leadership to the stranger")
			}
		})
	}
}

// BenchmarkApplyReplicated is a write committed by a leader and its
// follower, on plain TCP and over mutual TLS: what node-to-node TLS costs
// a directory write (32 writers, as the API's concurrent requests).
func BenchmarkApplyReplicated(b *testing.B) {
	for _, tc := range []struct{ name, ca string }{{"plain", ""}, {"mtls", b.TempDir()}} {
		b.Run(tc.name, func(b *testing.B) {
			leader := openTLSNode(b, tc.ca, "n1", false)
			follower := openTLSNode(b, tc.ca, "n2", true)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := leader.AddVoter(ctx, "n2", follower.RaftAddr()); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(16) // 32 writers on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := leader.Apply(context.Background(), putUser(fmt.Sprintf("u%d", next.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
