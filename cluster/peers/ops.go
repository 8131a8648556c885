package peers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/cluster/autopilot"
	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/persistence"
)

// roleJoining marks the temporary gossip identity of a node waiting to be
// added to the Raft cluster.
const roleJoining = "joining"

// joiningSuffix is appended to the node id to name that identity.
const joiningSuffix = "~joining"

// Ops is the node's part in running the cluster: joining the Raft
// cluster, Raft peer management on the leader (autopilot), forwarding
// writes, node-to-node requests, cluster status and the watchdog.
type Ops struct {
	cfg     Config
	dir     *persistence.Node
	log     *slog.Logger
	sign    signer
	client  *internalClient
	metrics *opsMetrics

	// gossip is the membership in use: the joining identity's while the
	// node waits to be added, then the actor layer's.
	gossip atomic.Pointer[membership.Membership]

	stopPilot  context.CancelFunc
	pilotDone  chan struct{}
	unsubPilot func()
	pilotMu    sync.Mutex // guards unsubPilot
	wake       chan struct{}
	stopOnce   sync.Once
	// watchdog stops the blocked-node watchdog (nil when not started).
	watchdog func()
	// siteConflicts are the node/site pairs recordSites logged.
	siteConflicts sync.Map
}

// New makes the node's Ops from cfg; with a cluster secret it becomes the
// directory's forwarder of writes to the leader. It fails naming the first
// required field cfg lacks.
func New(cfg Config) (*Ops, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Ops{cfg: cfg, dir: cfg.Dir, log: cfg.Logger, sign: signer{secret: []byte(cfg.Secret), now: time.Now}, metrics: newOpsMetrics()}
	o.client = newInternalClient(o.sign, cfg.Link, o.nodeAt, cfg.PeerTLS)
	if len(o.sign.secret) > 0 {
		o.dir.SetForwarder(&forwarder{client: o.client, httpAddrOf: o.httpAddrOf})
	}
	return o, nil
}

// Collectors are the cluster-operations metrics (docs/cluster.md), for
// the node to register.
func (o *Ops) Collectors() []prometheus.Collector { return o.metrics.collectors() }

// members returns the gossip members, or none before gossip runs.
func (o *Ops) members() []membership.Member {
	if ms := o.gossip.Load(); ms != nil {
		return ms.Members()
	}
	return nil
}

func raftID(m membership.Member) string {
	if m.Meta.RaftID != "" {
		return m.Meta.RaftID
	}
	return m.Name
}

// httpAddrOf finds the address the alive node with that Raft id serves
// node-to-node requests on (internalClient.target).
func (o *Ops) httpAddrOf(id string) (string, bool) {
	for _, m := range o.members() {
		if raftID(m) == id && m.State == membership.StateAlive && m.Meta.HTTPAddr != "" {
			if a := o.client.target(m.Meta.HTTPAddr, m.Meta.RaftAddr); a != "" {
				return a, true
			}
		}
	}
	return "", false
}

// nodeAt names the node that gossips addr as its Raft address ("" when
// none does).
func (o *Ops) nodeAt(raftAddr string) string {
	for _, m := range o.members() {
		if m.Meta.RaftAddr == raftAddr && m.Meta.RaftAddr != "" {
			return raftID(m)
		}
	}
	return ""
}

// advertisedHTTP is the HTTP address other nodes dial: the bound one, with
// the gossip address's host when HTTP binds all interfaces.
func advertisedHTTP(httpAddr, gossipAddr string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return httpAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ghost, _, err := net.SplitHostPort(gossipAddr); err == nil {
			return net.JoinHostPort(ghost, port)
		}
	}
	return httpAddr
}

// Join runs while a node that is not a cluster of one waits to become
// ready: a fresh node started with --join, or a member restarting (which
// may have been removed from the Raft configuration meanwhile). It gossips
// under a temporary identity (<id>~joining, role "joining") carrying its
// Raft id and address, so the leader's autopilot adds (or re-adds, or
// re-addresses) it; once it has a leader and has caught up, it adopts the
// leader's cluster id (a fresh node) and leaves that identity. The actor
// layer's gossip identity starts afterwards, on a node whose directory is
// complete, so grains are never placed on an empty or stale copy.
func (o *Ops) Join(ctx context.Context) error {
	dir := o.dir
	if dir.SoleServer() {
		return nil
	}
	ms, err := o.cfg.StartGossip(ctx, dir.ID()+joiningSuffix, membership.Meta{
		RaftAddr: dir.RaftAddr(), RaftID: dir.ID(), ClusterID: dir.ClusterID(),
		HTTPAddr: advertisedHTTP(o.cfg.HTTPAddr, o.cfg.GossipAddr), Roles: []string{roleJoining}})
	if err != nil {
		return fmt.Errorf("peers: join: %w", err)
	}
	o.gossip.Store(ms)
	defer func() {
		leaveCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := ms.Leave(leaveCtx); err != nil {
			o.log.Warn("join: leave the joining identity", "err", err)
		}
		if err := ms.Shutdown(); err != nil {
			o.log.Warn("join: stop the joining identity", "err", err)
		}
		o.gossip.Store(nil)
	}()
	o.log.Info("join: waiting for the Raft leader to add this node", "node", dir.ID(), "seeds", o.cfg.Seeds)
	waitCtx, cancel := context.WithTimeout(ctx, o.cfg.ReadyTimeout)
	defer cancel()
	return o.adoptCluster(waitCtx)
}

// adoptCluster waits until this node has a leader and caught up, then
// takes the leader's cluster id from its gossip metadata.
func (o *Ops) adoptCluster(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if o.dir.Ready() && o.dir.ClusterID() != "" {
			return nil
		}
		if o.dir.Ready() {
			leader, _ := o.dir.Leader()
			if id, ok := o.clusterIDOf(leader); ok {
				return o.dir.AdoptClusterID(id)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("peers: join: not added to a Raft cluster by its leader (seeds %v; is --cluster-secret or --cluster the same on every node?): %w", o.cfg.Seeds, ctx.Err())
		case <-tick.C:
		}
	}
}

func (o *Ops) clusterIDOf(id string) (string, bool) {
	for _, m := range o.members() {
		if raftID(m) == id && m.State == membership.StateAlive && m.Meta.ClusterID != "" && !slices.Contains(m.Meta.Roles, roleJoining) {
			return m.Meta.ClusterID, true
		}
	}
	return "", false
}

// Start runs once the actor layer (and its gossip, ms) is up: it
// publishes this node's cluster id and HTTP address, and starts the
// autopilot loop.
func (o *Ops) Start(ctx context.Context, ms *membership.Membership) error {
	o.wake = make(chan struct{}, 1)
	if err := o.follow(ctx, ms); err != nil {
		return err
	}
	pctx, stop := context.WithCancel(context.Background())
	o.stopPilot, o.pilotDone = stop, make(chan struct{})
	go o.pilotLoop(pctx, o.wake)
	return nil
}

// follow makes ms the gossip membership the autopilot reads and publishes
// this node's cluster metadata in it; a restarted actor layer brings a new
// membership to follow.
func (o *Ops) follow(ctx context.Context, ms *membership.Membership) error {
	o.gossip.Store(ms)
	err := ms.UpdateMeta(ctx, func(m *membership.Meta) {
		m.ClusterID = o.dir.ClusterID()
		m.HTTPAddr = advertisedHTTP(o.cfg.HTTPAddr, o.cfg.GossipAddr)
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("peers: publish cluster metadata: %w", err)
	}
	wake := o.wake
	unsub := ms.Subscribe(func(ms []membership.Member) {
		o.metrics.observeMembers(ms)
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	o.pilotMu.Lock()
	prev := o.unsubPilot
	o.unsubPilot = unsub
	o.pilotMu.Unlock()
	if prev != nil {
		prev()
	}
	return nil
}

// Stop ends the autopilot loop.
func (o *Ops) Stop() {
	o.stopOnce.Do(func() {
		if o.stopPilot == nil {
			return
		}
		o.pilotMu.Lock()
		unsub := o.unsubPilot
		o.pilotMu.Unlock()
		unsub()
		o.stopPilot()
		<-o.pilotDone
	})
}

// pilotInterval is how often the leader reconciles the Raft configuration
// without a membership change (removals after the grace period).
const pilotInterval = time.Second

func (o *Ops) pilotLoop(ctx context.Context, wake <-chan struct{}) {
	defer close(o.pilotDone)
	tick := time.NewTicker(pilotInterval)
	defer tick.Stop()
	var st autopilot.State
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-wake:
		}
		if o.dir.IsLeader() {
			st = o.reconcile(ctx, st)
			o.recordSites(ctx)
		} else {
			st = autopilot.State{}
		}
	}
}

// reconcile runs one autopilot step and carries out its actions, stopping
// at the first failure (the next step tries again).
func (o *Ops) reconcile(ctx context.Context, st autopilot.State) autopilot.State {
	servers, err := o.dir.Servers()
	if err != nil {
		return st
	}
	in := autopilot.Input{Self: o.dir.ID(), ClusterID: o.dir.ClusterID(), Now: time.Now()}
	for _, s := range servers {
		in.Servers = append(in.Servers, autopilot.Server{ID: s.ID, Addr: s.Address, Voter: s.Voter})
	}
	in.Members = pilotMembers(o.members())
	next, acts := autopilot.Step(autopilot.Config{Voters: o.cfg.Voters, DeadGrace: o.cfg.DeadGrace}, st, in)
	addrs := map[string]string{}
	for _, s := range in.Servers {
		addrs[s.ID] = s.Addr
	}
	for _, a := range acts {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := o.carryOut(actx, a, addrs[a.ID])
		cancel()
		if err != nil {
			o.log.Warn("autopilot: raft configuration change failed", "action", a.Kind.String(), "server", a.ID, "err", err)
			break
		}
		o.metrics.raftChanges.WithLabelValues(a.Kind.String()).Inc()
		o.log.Info("autopilot: raft configuration changed", "action", a.Kind.String(), "server", a.ID, "addr", a.Addr, "reason", a.Reason)
	}
	return next
}

func (o *Ops) carryOut(ctx context.Context, a autopilot.Action, addr string) error {
	d := o.dir
	switch a.Kind {
	case autopilot.AddVoter, autopilot.AddNonvoter:
		if err := o.probe(ctx, a.ID, a.Addr); err != nil {
			return err
		}
		if a.Kind == autopilot.AddVoter {
			return d.AddVoter(ctx, a.ID, a.Addr)
		}
		return d.AddNonvoter(ctx, a.ID, a.Addr)
	case autopilot.Promote:
		return d.AddVoter(ctx, a.ID, addr)
	case autopilot.Demote:
		return d.DemoteVoter(ctx, a.ID)
	case autopilot.Remove:
		return d.RemoveServer(ctx, a.ID)
	}
	return fmt.Errorf("peers: unknown autopilot action %v", a.Kind)
}

// probe checks, with TLS, that the server gossip announces at addr holds
// a node certificate of the cluster CA naming id, before it enters the
// Raft configuration: gossip is authenticated by the cluster secret only.
func (o *Ops) probe(ctx context.Context, id, addr string) error {
	if o.cfg.Link == nil {
		return nil
	}
	if err := o.cfg.Link.Probe(ctx, addr, id); err != nil {
		return fmt.Errorf("peers: not adding %q at %s to Raft: %w", id, addr, err)
	}
	return nil
}

func pilotMembers(ms []membership.Member) []autopilot.Member {
	out := make([]autopilot.Member, 0, len(ms))
	for _, m := range ms {
		if m.MetaErr != nil {
			continue
		}
		h := autopilot.Alive
		switch m.State {
		case membership.StateLeft:
			h = autopilot.Left
		case membership.StateFailed:
			h = autopilot.Failed
		}
		if m.Meta.Leaving && h == autopilot.Alive {
			h = autopilot.Left
		}
		out = append(out, autopilot.Member{RaftID: raftID(m), RaftAddr: m.Meta.RaftAddr, ClusterID: m.Meta.ClusterID,
			Health: h, Since: m.Since, Joining: slices.Contains(m.Meta.Roles, roleJoining), Site: m.Meta.Site})
	}
	return out
}
