package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	actorcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// metaTimeout bounds the wait for the actor metadata broadcast at start and
// for the leave broadcast at shutdown.
const metaTimeout = 2 * time.Second

// Provider is a protoactor-go ClusterProvider backed by hashicorp/memberlist
// (through membership.Membership). StartMember publishes the actor system's
// address, ID and kinds in this node's gossip metadata; every membership
// change then gives protoactor the full list of alive, non-client members
// that have an actor layer.
//
// The Provider owns the Membership: Shutdown stops it. Methods are safe for
// concurrent use.
type Provider struct {
	ms     *membership.Membership
	logger *slog.Logger

	mu          sync.Mutex
	c           *actorcluster.Cluster
	unsubscribe func()
	topoSub     *eventstream.Subscription
	topology    map[string]bool   // actor IDs and addresses in protoactor's last topology
	topoChanged chan struct{}     // closed and replaced when the topology changes
	sites       map[string]string // actor ID → site of every member published so far
	stopped     bool

	topologyChanges atomic.Uint64
}

var _ actorcluster.ClusterProvider = (*Provider)(nil)

// NewProvider returns a provider over ms and takes ownership of ms.
func NewProvider(ms *membership.Membership, logger *slog.Logger) *Provider {
	return &Provider{ms: ms, logger: logger, topology: map[string]bool{}, topoChanged: make(chan struct{}), sites: map[string]string{}}
}

// StartMember implements actorcluster.ClusterProvider for a node that hosts
// grains.
func (p *Provider) StartMember(c *actorcluster.Cluster) error { return p.start(c, false) }

// StartClient implements actorcluster.ClusterProvider for a node that only
// calls grains: it is gossiped as a client and left out of the topology.
func (p *Provider) StartClient(c *actorcluster.Cluster) error { return p.start(c, true) }

func (p *Provider) start(c *actorcluster.Cluster, client bool) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("cluster: actor system address: %w", err)
	}
	meta := p.ms.Meta()
	meta.ActorAddr = net.JoinHostPort(host, strconv.Itoa(port))
	meta.ActorID = c.ActorSystem.ID
	meta.Client = client
	meta.Kinds = nil
	if !client {
		meta.Kinds = c.GetClusterKinds()
		slices.Sort(meta.Kinds)
	}
	if _, err := membership.EncodeMeta(meta); err != nil {
		return fmt.Errorf("cluster: actor metadata of %d kinds: %w", len(meta.Kinds), err)
	}

	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return fmt.Errorf("cluster: start provider: %w", membership.ErrClosed)
	}
	p.c = c
	p.topoSub = c.ActorSystem.EventStream.Subscribe(p.recordTopology)
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), metaTimeout)
	defer cancel()
	err = p.ms.UpdateMeta(ctx, func(m *membership.Meta) {
		// Only the actor fields are ours; Raft peer management owns others.
		m.ActorAddr, m.ActorID, m.Client, m.Kinds = meta.ActorAddr, meta.ActorID, meta.Client, meta.Kinds
	})
	if err != nil {
		if errors.Is(err, membership.ErrClosed) {
			return fmt.Errorf("cluster: publish actor metadata: %w", err)
		}
		// Set locally; it reaches the others with the next state sync.
		p.logger.Warn("cluster: actor metadata broadcast not confirmed", "error", err)
	}

	unsubscribe := p.ms.Subscribe(p.publish)
	p.mu.Lock()
	p.unsubscribe = unsubscribe
	p.mu.Unlock()
	p.logger.Info("cluster: actor layer joined", "actor_addr", meta.ActorAddr, "actor_id", meta.ActorID, "kinds", meta.Kinds, "client", client)
	return nil
}

// Shutdown implements actorcluster.ClusterProvider: it stops feeding
// protoactor, leaves the gossip cluster when graceful (the others then drop
// this node at once instead of after failure detection), and stops
// memberlist. It is safe to call more than once; only the first call acts.
func (p *Provider) Shutdown(graceful bool) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	unsubscribe, c, topoSub := p.unsubscribe, p.c, p.topoSub
	p.mu.Unlock()

	if unsubscribe != nil {
		unsubscribe()
	}
	if topoSub != nil {
		c.ActorSystem.EventStream.Unsubscribe(topoSub)
	}
	if graceful {
		ctx, cancel := context.WithTimeout(context.Background(), metaTimeout)
		defer cancel()
		if err := p.ms.Leave(ctx); err != nil {
			p.logger.Warn("cluster: leave not confirmed; the others will detect the failure instead", "error", err)
		}
	}
	if err := p.ms.Shutdown(); err != nil {
		return fmt.Errorf("cluster: stop gossip: %w", err)
	}
	return nil
}

// publish hands protoactor the actor members among ms. It runs on the
// membership's notify goroutine, never inside a memberlist callback.
func (p *Provider) publish(ms []membership.Member) {
	p.mu.Lock()
	c, stopped := p.c, p.stopped
	p.mu.Unlock()
	if stopped || c == nil {
		return
	}
	members := make([]*actorcluster.Member, 0, len(ms))
	p.mu.Lock()
	for _, m := range ms {
		if am, ok := p.actorMember(m); ok {
			members = append(members, am)
			// An actor system ID never changes its site: entries of
			// members that left may stay (a restart brings a new ID).
			p.sites[am.Id] = m.Meta.Site
		}
	}
	p.mu.Unlock()
	c.MemberList.UpdateClusterTopology(members)
}

// actorMember converts a gossip member into a protoactor member, if it is
// an alive node with an actor layer that hosts grains.
func (p *Provider) actorMember(m membership.Member) (*actorcluster.Member, bool) {
	if m.State != membership.StateAlive || m.MetaErr != nil || m.Meta.Client ||
		m.Meta.Leaving || m.Meta.ActorID == "" || m.Meta.ActorAddr == "" {
		return nil, false
	}
	host, portStr, err := net.SplitHostPort(m.Meta.ActorAddr)
	port, perr := strconv.ParseUint(portStr, 10, 16)
	if err != nil || perr != nil {
		p.logger.Warn("cluster: member has a bad actor address; left out", "member", m.Name, "actor_addr", m.Meta.ActorAddr)
		return nil, false
	}
	return &actorcluster.Member{
		Id:    m.Meta.ActorID,
		Host:  host,
		Port:  int32(port),
		Kinds: slices.Clone(m.Meta.Kinds),
	}, true
}

// recordTopology remembers which actor members protoactor's member list
// holds, after its block list has filtered ours, and wakes topology
// watchers. Reading protoactor's own member list or block list from
// another goroutine would race (upstream #1108).
func (p *Provider) recordTopology(evt any) {
	topo, ok := evt.(*actorcluster.ClusterTopology)
	if !ok {
		return
	}
	members := make(map[string]bool, 2*len(topo.Members))
	for _, m := range topo.Members {
		members[m.Id] = true
		members[m.Address()] = true
	}
	p.topologyChanges.Add(1)
	p.mu.Lock()
	p.topology = members
	close(p.topoChanged)
	p.topoChanged = make(chan struct{})
	p.mu.Unlock()
}

// inTopology reports whether protoactor currently routes grains to the
// member with this actor system ID or actor address.
func (p *Provider) inTopology(idOrAddr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.topology[idOrAddr]
}

// topologyChanged returns a channel closed at the next topology change.
func (p *Provider) topologyChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.topoChanged
}

// siteOf returns the site of the member with this actor system ID as its
// gossip metadata gave it; "" when unknown or without a site.
func (p *Provider) siteOf(actorID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sites[actorID]
}
