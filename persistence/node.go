package persistence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Node is one server's share of the replicated directory: the Pebble
// store, the Raft node that orders commands, and the FSM that applies them.
// All methods are safe for concurrent use.
type Node struct {
	cfg       Config
	log       *slog.Logger
	nodeID    string
	idMu      sync.Mutex // guards clusterID, which a joining node adopts late
	clusterID string     // "" while a fresh joining node waits for its cluster

	store *Store
	fsm   *fsm
	raft  *raft.Raft
	trans *raft.NetworkTransport
	snaps *raft.FileSnapshotStore
	ahead *readAhead // the log store's read-ahead (counts the entries read)
	m     *nodeMetrics
	// forwarder carries Apply from a follower to the leader (nil: off).
	forwarder atomic.Pointer[Forwarder]
	group     groupCommit // ApplyGrouped's queue (group.go)
	fsmM      *fsmMetrics

	caughtUp    atomic.Bool   // the directory has caught up with the log since Open
	campaigning atomic.Bool   // the heartbeat timeout is lowered (campaignAlone)
	opened      time.Time     // when Open started: the age of a node that never heard from a leader
	done        chan struct{} // closed by Close: stops the node's goroutines
	stopped     chan struct{} // closed once Raft has been shut down
	stopOnce    sync.Once
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

// Open opens (creating on first start) the node's data directory and
// starts Raft. A fresh node bootstraps itself as the only voter unless
// cfg.NoBootstrap. Open does not wait for a leader: see WaitReady.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, opened: time.Now(), m: newNodeMetrics(), fsmM: newFSMMetrics(), done: make(chan struct{}), stopped: make(chan struct{})}
	if err := n.open(ctx); err != nil {
		n.abort()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(ctx context.Context) error {
	fresh, err := checkDataDir(n.cfg.Dir)
	if err != nil {
		return err
	}
	if n.store, err = openStore(filepath.Join(n.cfg.Dir, "store"), n.cfg.fs, n.log, fresh); err != nil {
		return err
	}
	n.store.now = n.cfg.Now
	if err := n.resolveIDs(); err != nil {
		return err
	}
	if n.fsm, err = newFSM(n.store, n.log, n.fsmM); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("persistence: open %q: %w", n.cfg.Dir, err)
	}
	return n.startRaft()
}

// checkDataDir creates dir if needed and reports whether it is fresh (no
// store yet). A non-empty dir without a store belongs to something else.
func checkDataDir(dir string) (fresh bool, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return false, fmt.Errorf("persistence: create data dir %q: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
		return false, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("persistence: read data dir %q: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() != "snapshots" {
			return false, fmt.Errorf("persistence: data dir %q is not empty and holds no ucgrid store (found %q): %w", dir, e.Name(), ErrInvalid)
		}
	}
	return true, nil
}

// resolveIDs checks the configured node and cluster ids against the stored
// ones, storing them on first start.
func (n *Node) resolveIDs() error {
	meta, found, err := n.store.nodeMeta()
	if err != nil {
		return err
	}
	if found {
		return n.matchIDs(meta)
	}
	n.nodeID, n.clusterID = n.cfg.NodeID, n.cfg.ClusterID
	setDefault(&n.nodeID, "node-"+randomHex(4))
	if !n.cfg.NoBootstrap {
		// A joining node learns its cluster's id when it is added (AdoptClusterID).
		setDefault(&n.clusterID, randomHex(8))
	}
	return n.store.setNodeMeta(&dirpb.NodeMeta{NodeId: n.nodeID, ClusterId: n.clusterID})
}

func (n *Node) matchIDs(meta *dirpb.NodeMeta) error {
	if n.cfg.ClusterID != "" && meta.ClusterId != "" && n.cfg.ClusterID != meta.ClusterId {
		return fmt.Errorf("persistence: data dir %q belongs to cluster %q, not %q: %w", n.cfg.Dir, meta.ClusterId, n.cfg.ClusterID, ErrInvalid)
	}
	if n.cfg.NodeID != "" && n.cfg.NodeID != meta.NodeId {
		return fmt.Errorf("persistence: data dir %q belongs to node %q, not %q: %w", n.cfg.Dir, meta.NodeId, n.cfg.NodeID, ErrInvalid)
	}
	n.nodeID, n.clusterID = meta.NodeId, meta.ClusterId
	if n.clusterID == "" && n.cfg.ClusterID != "" {
		// A joining node that had not learnt its cluster yet; told now.
		n.clusterID = n.cfg.ClusterID
		return n.store.setNodeMeta(&dirpb.NodeMeta{NodeId: n.nodeID, ClusterId: n.clusterID})
	}
	return nil
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

func (n *Node) startRaft() error {
	hlog := newHclog(n.log, "raft")
	if err := cleanSnapshots(filepath.Join(n.cfg.Dir, "snapshots"), n.log); err != nil {
		return err
	}
	var err error
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(n.cfg.Dir, n.cfg.SnapshotRetain, hlog); err != nil {
		return fmt.Errorf("persistence: snapshot store in %q: %w", n.cfg.Dir, err)
	}
	if n.trans, err = n.transport(hlog); err != nil {
		return err
	}
	conf, notify, err := n.raftConfig(hlog)
	if err != nil {
		return err
	}
	rs := newRaftLogStore(n.store, n.m.appendSeconds)
	n.ahead = rs.ahead
	logs, err := raft.NewLogCache(1024, rs)
	if err != nil {
		return fmt.Errorf("persistence: raft log cache: %w", err)
	}
	if err := n.bootstrap(conf, logs, rs); err != nil {
		return err
	}
	if n.raft, err = raft.NewRaft(conf, n.fsm, logs, rs, n.snaps, n.trans); err != nil {
		return fmt.Errorf("persistence: start raft in %q: %w", n.cfg.Dir, err)
	}
	n.campaignAlone()
	n.wg.Add(3)
	go n.watchLeadership(notify)
	go n.watchFailure()
	go n.watchCatchUp()
	return nil
}

// cleanSnapshots removes what a crash left in the snapshot directory:
// temporary snapshots (*.tmp) and snapshots without metadata (killed while
// being reaped). Raft would otherwise skip them with a warning forever.
func cleanSnapshots(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("persistence: read snapshot dir %q: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(path, "meta.json")); err == nil && !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		log.Warn("persistence: removing incomplete snapshot", "path", path)
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("persistence: remove incomplete snapshot %q: %w", path, err)
		}
	}
	return nil
}

// Raft transport defaults: connections pooled per peer, and how long a
// write to a peer may block before it counts as failed.
const (
	raftMaxPool = 3
	raftTimeout = 10 * time.Second
)

func (n *Node) transport(hlog *hclogAdapter) (*raft.NetworkTransport, error) {
	if n.cfg.RaftLayer != nil {
		return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: n.cfg.RaftLayer, MaxPool: raftMaxPool, Timeout: raftTimeout, Logger: hlog}), nil
	}
	var advertise net.Addr // nil interface: advertise the bound address
	if n.cfg.RaftAdvertise != "" {
		a, err := net.ResolveTCPAddr("tcp", n.cfg.RaftAdvertise)
		if err != nil {
			return nil, fmt.Errorf("persistence: Config.RaftAdvertise: %q: %w", n.cfg.RaftAdvertise, err)
		}
		advertise = a
	}
	t, err := raft.NewTCPTransportWithLogger(n.cfg.RaftBind, advertise, raftMaxPool, raftTimeout, hlog)
	if err != nil {
		return nil, fmt.Errorf("persistence: raft transport on %q: %w", n.cfg.RaftBind, err)
	}
	return t, nil
}

func (n *Node) raftConfig(hlog *hclogAdapter) (*raft.Config, chan bool, error) {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.nodeID)
	c.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	c.ElectionTimeout = n.cfg.ElectionTimeout
	c.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	c.CommitTimeout = n.cfg.CommitTimeout
	c.MaxAppendEntries = n.cfg.MaxAppendEntries
	c.BatchApplyCh = true
	c.SnapshotInterval = n.cfg.SnapshotInterval
	c.SnapshotThreshold = n.cfg.SnapshotThreshold
	c.TrailingLogs = n.cfg.TrailingLogs
	c.Logger = hlog
	c.NoLegacyTelemetry = true
	notify := make(chan bool, 8)
	c.NotifyCh = notify
	restore, err := n.needsSnapshotRestore()
	c.NoSnapshotRestoreOnStart = !restore
	return c, notify, err
}

// needsSnapshotRestore reports whether the newest Raft snapshot is ahead
// of the directory in Pebble. Normally it is not (the directory is
// persistent and written before snapshots are taken), and Raft skips
// restoring it at start.
func (n *Node) needsSnapshotRestore() (bool, error) {
	metas, err := n.snaps.List()
	if err != nil {
		return false, fmt.Errorf("persistence: list snapshots in %q: %w", n.cfg.Dir, err)
	}
	return len(metas) > 0 && metas[0].Index > n.fsm.applied.Load(), nil
}

func (n *Node) bootstrap(conf *raft.Config, logs raft.LogStore, stable raft.StableStore) error {
	if n.cfg.NoBootstrap {
		return nil
	}
	has, err := raft.HasExistingState(logs, stable, n.snaps)
	if err != nil {
		return fmt.Errorf("persistence: raft state in %q: %w", n.cfg.Dir, err)
	}
	if has {
		return nil
	}
	if n.clusterID == "" {
		// A node that once waited to join is now told to found a cluster.
		n.clusterID = randomHex(8)
		if err := n.store.setNodeMeta(&dirpb.NodeMeta{NodeId: n.nodeID, ClusterId: n.clusterID}); err != nil {
			return err
		}
	}
	self := raft.Server{Suffrage: raft.Voter, ID: conf.LocalID, Address: n.trans.LocalAddr()}
	if err := raft.BootstrapCluster(conf, logs, stable, n.snaps, n.trans, raft.Configuration{Servers: []raft.Server{self}}); err != nil {
		return fmt.Errorf("persistence: bootstrap raft in %q: %w", n.cfg.Dir, err)
	}
	n.log.Info("persistence: bootstrapped a new cluster", "node", n.nodeID, "cluster", n.clusterID)
	return nil
}

// campaignAlone makes a node that is the only voter of its cluster
// campaign at once instead of after one to two heartbeat timeouts
// (0.5–1 s of every start, for an election nobody else can win or
// disturb): Raft checks its leader at once when its heartbeat timeout is
// lowered. The configured timeout is restored on the first leadership
// change (watchLeadership). Clusters of several voters are left alone.
func (n *Node) campaignAlone() {
	if !n.onlyVoter() {
		return
	}
	rc := n.raft.ReloadableConfig()
	if n.cfg.LeaderLeaseTimeout >= rc.HeartbeatTimeout {
		return // Raft refuses a heartbeat timeout below the lease: wait as usual
	}
	rc.HeartbeatTimeout = n.cfg.LeaderLeaseTimeout
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.log.Warn("persistence: campaign at once", "err", err)
		return
	}
	n.campaigning.Store(true)
}

// onlyVoter reports whether this node is the only voter of the latest
// Raft configuration it knows.
func (n *Node) onlyVoter() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	voters, self := 0, false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == raft.ServerID(n.nodeID)
		}
	}
	return voters == 1 && self
}

// endCampaign restores the configured heartbeat timeout (campaignAlone).
func (n *Node) endCampaign() {
	if !n.campaigning.CompareAndSwap(true, false) {
		return
	}
	rc := n.raft.ReloadableConfig()
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.log.Warn("persistence: restore the heartbeat timeout", "err", err)
	}
}

// watchLeadership keeps this node's own address current in the Raft
// configuration (a single node bound to port 0 gets a new one each start).
func (n *Node) watchLeadership(notify <-chan bool) {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case leader := <-notify:
			n.log.Info("persistence: raft leadership changed", "node", n.nodeID, "leader", leader)
			n.endCampaign()
			if leader {
				n.fixSelfAddress()
			}
		}
	}
}

func (n *Node) fixSelfAddress() {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return
	}
	self, addr := raft.ServerID(n.nodeID), n.trans.LocalAddr()
	for _, s := range f.Configuration().Servers {
		if s.ID == self && s.Address != addr && s.Suffrage == raft.Voter {
			// Not f.Error() alone: Raft never answers a configuration
			// change it committed but had not applied when it shut down,
			// and Close waits for this goroutine.
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
			err := n.wait(ctx, n.raft.AddVoter(self, addr, 0, n.cfg.ApplyTimeout))
			cancel()
			if err != nil {
				n.log.Warn("persistence: update own raft address", "addr", addr, "err", err)
			}
		}
	}
}

// watchCatchUp marks the node caught up once its directory holds every
// committed entry: after a crash the last FSM batches are applied again
// from the log, and Ready waits for that. The leader knows when a Barrier
// has been applied; a follower when it has applied the commit index the
// leader told it.
func (n *Node) watchCatchUp() {
	defer n.wg.Done()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !n.caughtUpNow() {
		select {
		case <-n.done:
			return
		case <-tick.C:
		}
	}
	n.caughtUp.Store(true)
}

func (n *Node) caughtUpNow() bool {
	switch n.raft.State() {
	case raft.Leader:
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
		defer cancel()
		return n.wait(ctx, n.raft.Barrier(n.cfg.ApplyTimeout)) == nil
	case raft.Follower:
		return !n.raft.LastContact().IsZero() && n.fsm.applied.Load() >= n.raft.CommitIndex()
	}
	return false
}

// watchFailure stops Raft when the store fails, so the node neither leads
// nor votes with a log it can no longer write.
func (n *Node) watchFailure() {
	defer n.wg.Done()
	failed, _ := n.store.Failed()
	select {
	case <-n.done:
	case <-failed:
		_, err := n.store.Failed()
		n.log.Error("persistence: stopping raft after a write failure", "err", err)
		if err := n.stopRaft(); err != nil {
			n.log.Warn("persistence: raft shutdown", "err", err)
		}
	}
}

// stopRaft shuts Raft down (once) and releases callers waiting on it.
func (n *Node) stopRaft() error {
	var err error
	n.stopOnce.Do(func() {
		err = n.raft.Shutdown().Error()
		close(n.stopped)
	})
	return err
}

// abort releases what a failed Open had opened.
func (n *Node) abort() {
	if n.trans != nil {
		if err := n.trans.Close(); err != nil {
			n.log.Warn("persistence: close raft transport", "err", err)
		}
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.log.Warn("persistence: close store", "err", err)
		}
	}
}

// Close stops Raft and closes the store; every acknowledged write is
// already on disk. Subscribers' channels are closed. Calling it again
// returns the first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	var errs []error
	n.snapshotBeforeClose()
	if err := n.stopRaft(); err != nil {
		errs = append(errs, fmt.Errorf("persistence: raft shutdown: %w", err))
	}
	close(n.done)
	n.wg.Wait()
	// Close leaves the pooled outbound connections open, and with them
	// the peers' goroutines reading them: release them first.
	n.trans.CloseStreams()
	if err := n.trans.Close(); err != nil {
		errs = append(errs, fmt.Errorf("persistence: close raft transport: %w", err))
	}
	n.fsm.close()
	if err := n.store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// snapshotBeforeClose takes a snapshot when at least
// CloseSnapshotEntries entries were applied since the last one, so that
// the next start reads no more of the log than that (docs/persistence.md
// "Start"). A failure is logged: the next start then replays the log.
func (n *Node) snapshotBeforeClose() {
	if _, err := n.store.Failed(); err != nil || n.raft.State() == raft.Shutdown {
		return
	}
	since, err := n.sinceSnapshot()
	if err != nil || since < n.cfg.CloseSnapshotEntries {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	if err := n.Snapshot(ctx); err != nil {
		n.log.Warn("persistence: snapshot before close", "entries", since, "err", err)
		return
	}
	n.log.Info("persistence: snapshot before close", "entries", since, "took", time.Since(start))
}

// sinceSnapshot is how many entries were applied after the newest snapshot.
func (n *Node) sinceSnapshot() (uint64, error) {
	metas, err := n.snaps.List()
	if err != nil {
		return 0, fmt.Errorf("persistence: list snapshots in %q: %w", n.cfg.Dir, err)
	}
	applied := n.fsm.applied.Load()
	if len(metas) > 0 && metas[0].Index <= applied {
		return applied - metas[0].Index, nil
	}
	if len(metas) > 0 {
		return 0, nil
	}
	return applied, nil
}

// Collectors returns the node's Prometheus collectors; the caller
// registers them (nothing is registered globally).
func (n *Node) Collectors() []prometheus.Collector {
	out := []prometheus.Collector{n.m.applySeconds, n.m.applyErrors, n.m.appendSeconds, n.m.forwardSeconds, n.m.forwardRetries, stateCollector{n}}
	out = append(out, journalQueueGauges(n.store)...)
	return append(out, n.fsmM.collectors()...)
}
