package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors"
	ucluster "github.com/ucgrid/ucgrid/cluster"
	"github.com/ucgrid/ucgrid/cluster/membership"
)

// actorLayer is the node's part of the actor cluster: gossip membership,
// the protoactor-go node hosting the grains, the session hub, and the
// dispatcher of directory changes to the local grains.
type actorLayer struct {
	node         *ucluster.Node
	deps         *actors.Deps
	hub          *actors.Hub
	unregister   func()
	stopDispatch context.CancelFunc
	dispatched   chan struct{}
}

// feedBuffer is how many directory changes may wait for the dispatcher
// before it is told to reset (drop every cache) instead.
const feedBuffer = 4096

// gossipConfig is this node's memberlist configuration under name: its
// gossip address, the seeds to join and the key from the cluster secret.
// The joining node's temporary identity and the actor layer both use it.
func (s *Node) gossipConfig(name string, meta membership.Meta) membership.Config {
	meta.Site = s.cfg.Site
	return membership.Config{NodeName: name, BindAddr: s.cfg.GossipAddr, Seeds: s.cfg.Join, Meta: meta,
		SecretKey: gossipKey(s.cfg.ClusterSecret), Logger: s.cfg.Logger}
}

// gossipKey is the AES-256 key that encrypts and authenticates the
// cluster's gossip, derived from the cluster secret every node shares
// (HMAC-SHA256 with a fixed label, so the key is not the secret used to
// sign node-to-node requests). Without a secret gossip stays plain: a
// cluster of one, or nodes that refuse each other's requests anyway.
func gossipKey(secret string) []byte { return secretKey(secret, "ucgrid gossip key v1") }

// secretKey is a key for one use (label) derived from the cluster
// secret: HMAC-SHA256(secret, label). nil without a secret.
func secretKey(secret, label string) []byte {
	if secret == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// ErrGossipAddrInUse is returned by Start when another process holds the
// gossip address (memberlist needs it for both UDP and TCP).
var ErrGossipAddrInUse = errors.New("node: gossip address already in use")

// ErrSiteGossipAddrInUse is returned by Start when the node has a site
// and another process holds its site gossip address, the gossip port + 1
// (see membership.Config.SiteBindAddr). It is an ErrGossipAddrInUse too.
var ErrSiteGossipAddrInUse = fmt.Errorf("%w (the site gossip pool's, on the gossip port + 1)", ErrGossipAddrInUse)

// siteGossipAddr is the address of the node's site gossip pool: host and
// gossip port + 1, as membership derives it; "" without a site, or when
// the gossip port is 0 (the site pool picks a free port too).
func siteGossipAddr(c Config) string {
	if c.Site == "" {
		return ""
	}
	host, portStr, err := net.SplitHostPort(c.GossipAddr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port <= 0 || port >= 65535 {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port+1))
}

// checkGossipAddrs checks the gossip address and, with a site, the site
// gossip address.
func checkGossipAddrs(c Config) error {
	if err := checkGossipAddr(c.GossipAddr); err != nil {
		return err
	}
	if site := siteGossipAddr(c); site != "" {
		if err := checkGossipAddr(site); err != nil {
			return fmt.Errorf("%w: %s", ErrSiteGossipAddrInUse, site)
		}
	}
	return nil
}

// checkGossipAddr fails early with ErrGossipAddrInUse; memberlist's own
// error does not say which flag to change. Port 0 is always free.
func checkGossipAddr(addr string) error {
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrGossipAddrInUse, addr)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrGossipAddrInUse, addr)
	}
	return udp.Close()
}

// layer is the node's running actor layer (nil before it started).
func (s *Node) layer() *actorLayer { return s.actors.Load() }

func (s *Node) startActors(ctx context.Context) error {
	if err := checkGossipAddrs(s.cfg); err != nil {
		return err
	}
	a, err := s.newActorLayer(ctx, nil)
	if err != nil {
		return err
	}
	s.actors.Store(a)
	return nil
}

// newActorLayer starts gossip, a protoactor-go node under a new actor
// system ID, the grains' dependencies, the session hub (a new one, or hub
// moved over from a previous layer) and the dispatcher of directory
// changes. On error, what it started is stopped again.
func (s *Node) newActorLayer(ctx context.Context, hub *actors.Hub) (*actorLayer, error) {
	a := &actorLayer{dispatched: make(chan struct{})}
	sites := newHomeSites(s.dir.Store())
	node, err := ucluster.Start(ctx, ucluster.Config{
		HomeSite: sites.of,
		// A leaving node waits for its grains' runtime state to reach
		// their new nodes before it stops talking to them.
		GrainsStopped: func() { a.deps.WaitAside() },
		Membership:    s.gossipConfig(s.dir.ID(), membership.Meta{RaftAddr: s.dir.RaftAddr()}),
		ActorAddr:     s.cfg.ActorAddr,
		TLS:           s.cfg.TLS,
		Kinds:         actors.Kinds(),
		Logger:        s.cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("node: actor cluster: %w", err)
	}
	a.node = node
	system := node.Cluster().ActorSystem
	a.deps = &actors.Deps{Store: s.dir.Store(), Applied: s.dir.Applied, WaitApplied: s.dir.WaitApplied,
		Request: node.Request, Apply: s.dir.Apply, ApplyGrouped: s.dir.ApplyGrouped, ApplyGroupedAll: s.dir.ApplyGroupedAll, Logger: s.cfg.Logger, Metrics: s.grains}
	if err := a.deps.ResumeRegistrations(); err != nil {
		s.cfg.Logger.Warn("actor layer: the registration queue of this node is unreadable; its updates wait", "err", err)
	}
	a.unregister = actors.Register(system, a.deps)
	if err := a.deps.ResumeJournal(); err != nil {
		s.cfg.Logger.Warn("actor layer: the journal queue of this node is unreadable; its entries wait", "err", err)
	}
	if hub == nil {
		hub, err = actors.StartHub(system, a.deps)
	} else {
		err = hub.Rebind(system, a.deps)
	}
	if err != nil {
		_ = a.stop(ctx)
		return nil, err
	}
	a.hub = hub
	changes, cancelFeed := s.dir.Subscribe(feedBuffer)
	siteChanges, cancelSiteFeed := s.dir.Subscribe(feedBuffer)
	dctx, stop := context.WithCancel(context.Background())
	a.stopDispatch = func() { stop(); cancelFeed(); cancelSiteFeed() }
	go func() {
		defer close(a.dispatched)
		var wg sync.WaitGroup
		wg.Go(func() { sites.follow(dctx, siteChanges, node.Recheck) })
		actors.Dispatch(dctx, system, a.deps, changes)
		wg.Wait()
	}()
	return a, nil
}

// restartActors replaces the actor layer by a new one with a new actor
// system ID: protoactor-go blocks the ID of a node the others once
// declared dead, for ever, so a node that was paused or cut off can only
// come back under a new one. Sessions (SSE streams, SIP subscriptions)
// stay open: the hub moves to the new layer and registers them again.
// Grains of the old layer stop; their runtime state is lost, as after a
// crash, and the sources re-assert it. cluster/peers' watchdog calls it
// (layerActors.Restart) and then follows the new layer's gossip.
func (s *Node) restartActors(ctx context.Context) error {
	old := s.layer()
	if old.stopDispatch != nil {
		old.stopDispatch()
		<-old.dispatched
	}
	old.deps.SkipHandovers() // the peers refuse this identity
	if err := old.node.Shutdown(ctx); err != nil {
		s.cfg.Logger.Warn("actor layer restart: the old layer did not stop cleanly", "err", err)
	}
	if old.unregister != nil {
		old.unregister()
	}
	a, err := s.newActorLayer(ctx, old.hub)
	if err != nil {
		return err
	}
	a.deps.AdoptRegistrations(old.deps)
	s.actors.Store(a)
	return nil
}

// stop leaves the cluster and stops the grains; ctx bounds the wait.
func (a *actorLayer) stop(ctx context.Context) error {
	if a.stopDispatch != nil {
		a.stopDispatch()
		<-a.dispatched
	}
	if a.hub != nil {
		a.hub.Stop()
	}
	if !a.node.HasPeers() {
		a.deps.SkipHandovers() // the last node: nobody to hand over to
	}
	err := a.node.Shutdown(ctx)
	// Work the grains left running (ring plans, journal commits) reads and
	// writes the directory, which closes after this layer: a read of a
	// closed Pebble panics.
	a.deps.WaitAside()
	if a.unregister != nil {
		a.unregister()
	}
	if err != nil {
		return fmt.Errorf("node: stop actor cluster: %w", err)
	}
	return nil
}

// grainClient calls grains through the node's current actor layer, so
// that the API and SIP keep working across a restart of the layer.
type grainClient struct{ s *Node }

func (c grainClient) Request(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error) {
	a := c.s.layer()
	if a == nil {
		return nil, errors.New("node: the actor layer is not running")
	}
	return a.node.Request(ctx, identity, kind, msg)
}

// layerCollector exposes the metrics of the current actor layer.
type layerCollector struct{ s *Node }

func (c layerCollector) Describe(ch chan<- *prometheus.Desc) {
	if a := c.s.layer(); a != nil {
		a.node.Collector().Describe(ch)
	}
}

func (c layerCollector) Collect(ch chan<- prometheus.Metric) {
	if a := c.s.layer(); a != nil {
		a.node.Collector().Collect(ch)
	}
}
