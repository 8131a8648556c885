package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	actorcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// endpointConnectAttempts is how often protoactor-go's endpoint writer tries
// to connect to a peer before giving up on it (remote.Config.MaxRetryCount,
// default 5). It sleeps 2 s after every failed attempt, blocking that
// endpoint, and the remote's graceful shutdown, meanwhile: with the
// default a dead peer holds them for 10 s. With one attempt the endpoint
// gives up after 2 s, queued messages become dead letters, and
// Node.Request's own retries take over.
const endpointConnectAttempts = 1

// Node is one started ucgrid cluster node: memberlist gossip, a protoactor-go
// actor system with remoting, and the actor cluster placing grains with
// rendezvous hashing among the members of their home site (PlaceOwner). Its methods are safe for
// concurrent use.
type Node struct {
	cfg      Config
	logger   *slog.Logger
	ms       *membership.Membership
	provider *Provider
	system   *actor.ActorSystem
	cluster  *actorcluster.Cluster
	lookup   *siteLookup
	requests requestMetrics
	aside    asideCalls

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error
}

// Start starts gossip, joins the seeds it can reach, and starts the actor
// cluster with cfg.Kinds. It blocks for about a second more than the joins
// take (protoactor-go's Cluster.StartMember sleeps 1 s) and cannot be
// interrupted once the actor cluster is starting; ctx bounds the joins.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkListen(cfg.ActorAddr); err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("node", cfg.Membership.NodeName)
	ms, err := membership.Start(ctx, cfg.Membership)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n := &Node{
		cfg:          cfg,
		logger:       logger,
		ms:           ms,
		provider:     NewProvider(ms, logger),
		shutdownDone: make(chan struct{}),
	}
	if err := n.startActors(); err != nil {
		n.abortStart()
		return nil, err
	}
	return n, nil
}

// checkListen fails early, with a clear message, when the actor address
// is taken: protoactor-go would panic on it.
func checkListen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cluster: actor address %s: %w", addr, err)
	}
	if err := ln.Close(); err != nil {
		return fmt.Errorf("cluster: actor address %s: %w", addr, err)
	}
	return nil
}

func (n *Node) startActors() (err error) {
	cfg := n.cfg
	host, port, _ := splitHostPort(cfg.ActorAddr) // validated
	var remoteOpts []remote.ConfigOption
	if cfg.ActorAdvertiseAddr != "" {
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(cfg.ActorAdvertiseAddr))
	}
	if cfg.TLS != nil {
		remoteOpts = append(remoteOpts, remoteTLSOptions(cfg.TLS, n.logger, &n.requests.refused)...)
	}
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(system *actor.ActorSystem) *slog.Logger {
		return slog.New(newActorLogHandler(cfg.Logger.Handler())).
			With("component", "actor", "node", cfg.Membership.NodeName, "actor_system", system.ID)
	}))
	remoteCfg := remote.Configure(host, port, remoteOpts...)
	remoteCfg.MaxRetryCount = endpointConnectAttempts
	n.lookup = newSiteLookup(cfg.HomeSite, n.provider.siteOf)
	ccfg := actorcluster.Configure(cfg.Membership.ClusterName, n.provider, n.lookup, remoteCfg,
		actorcluster.WithKinds(cfg.Kinds...),
		actorcluster.WithRequestTimeout(cfg.AttemptTimeout)) // bounds one activation lookup; Request retries
	n.cluster = actorcluster.New(n.system, ccfg)

	// protoactor-go reports start-up failures (listen errors, provider
	// errors) by panicking.
	defer func() {
		switch r := recover().(type) {
		case nil:
		case error:
			err = fmt.Errorf("cluster: start actor cluster: %w", r)
		default:
			err = fmt.Errorf("cluster: start actor cluster: %v", r)
		}
	}()
	if cfg.Client {
		n.cluster.StartClient()
	} else {
		n.cluster.StartMember()
	}
	n.logger.Info("cluster: node started", "client", cfg.Client, "gossip_addr", n.ms.LocalAddr(), "actor_addr", n.system.Address(), "actor_id", n.system.ID, "tls", cfg.TLS != nil)
	return nil
}

// abortStart releases what a failed Start had acquired, best effort.
func (n *Node) abortStart() {
	if err := n.provider.Shutdown(false); err != nil {
		n.logger.Warn("cluster: stop gossip after failed start", "error", err)
	}
	if n.system != nil {
		n.system.Shutdown()
	}
	if n.cluster != nil && n.cluster.Remote != nil {
		defer func() {
			// The remote may have failed before its server existed.
			if r := recover(); r != nil {
				n.logger.Debug("cluster: remote was not started", "panic", r)
			}
		}()
		n.cluster.Remote.Shutdown(false)
	}
}

// PeersRefused counts the peers the actor remote refused at the TLS
// handshake since Start.
func (n *Node) PeersRefused() uint64 { return n.requests.refused.Load() }

// Name returns the node name.
func (n *Node) Name() string { return n.cfg.Membership.NodeName }

// ActorAddr returns the host:port of this node's actor remote.
func (n *Node) ActorAddr() string { return n.system.Address() }

// ActorID returns this node's actor system ID (its protoactor member ID).
func (n *Node) ActorID() string { return n.system.ID }

// Cluster returns the protoactor-go cluster, for the actor layer (spawning,
// generated grain clients). Call grains through Request: see PITFALLS.md on
// the package-global call config of the generated clients.
func (n *Node) Cluster() *actorcluster.Cluster { return n.cluster }

// Membership returns the gossip membership, for Raft peer management and
// status.
func (n *Node) Membership() *membership.Membership { return n.ms }

// Shutdown leaves the cluster and stops the node: memberlist leaves first
// (peers stop routing to this node at once), then local grains are stopped
// (they get Stopping/Stopped: the moment to hand state over), then gossip
// and remoting. When ctx ends first Shutdown returns ctx's error and the
// stop completes in the background. Later calls wait for the first.
//
// It does not use Cluster.Shutdown: with graceful=false that neither stops
// the provider nor the grains; with graceful=true it sleeps a fixed 2 s and
// stops the identity lookup twice.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() {
		go func() {
			defer close(n.shutdownDone)
			n.shutdownErr = n.shutdown()
		}()
	})
	select {
	case <-n.shutdownDone:
		return n.shutdownErr
	case <-ctx.Done():
		return fmt.Errorf("cluster: shutdown of %s still running: %w", n.Name(), ctx.Err())
	}
}

// handOffGrains shows the local identity lookup a topology without this
// node, as the others see it after the leave: it moves every local grain
// to its new owner the way a rebalance does, so the grains hand their
// runtime state over (Stopping) to activations there. Without it they
// would be stopped with this node still the owner in the local view, and
// a hand-over request would come back here.
func (n *Node) handOffGrains() {
	var others []*actorcluster.Member
	for _, m := range n.cluster.MemberList.Members().Members() {
		if m.Id != n.system.ID {
			others = append(others, m)
		}
	}
	if len(others) > 0 {
		n.cluster.MemberList.UpdateClusterTopology(others)
	}
}

func (n *Node) shutdown() error {
	start := time.Now()
	err := n.provider.Shutdown(true)
	c := n.cluster
	n.handOffGrains()
	// Tell protoactor's own gossip too, so that peers block this actor
	// system ID even if they missed the memberlist leave. A client runs no
	// gossip actor: SetState would log its nil PID and panic.
	if !n.cfg.Client {
		c.Gossip.SetState(actorcluster.GracefullyLeftKey, &emptypb.Empty{})
	}
	c.IdentityLookup.Shutdown() // poisons local activations and waits
	if n.cfg.GrainsStopped != nil {
		n.cfg.GrainsStopped()
	}
	c.Gossip.Shutdown()
	n.system.Shutdown()
	// Graceful: tells connected peers to disconnect, then stops gRPC. It
	// can wait up to endpointConnectAttempts × 2 s for an endpoint writer
	// still trying to reach a dead peer.
	c.Remote.Shutdown(true)
	// Requests abandoned at a topology change wait for their futures'
	// timeouts; none outlives the node's stop.
	if left := n.aside.wait(n.cfg.AttemptTimeout + time.Second); left > 0 {
		n.logger.Warn("cluster: requests still waiting after stop", "count", left)
	}
	n.logger.Info("cluster: node stopped", "took", time.Since(start).Round(time.Millisecond))
	return err
}

// Recheck moves the local grains whose owner changed without a topology
// change (Config.HomeSite answers differently now): they stop here, handing
// their runtime state over, and the next request activates them on their
// new owner.
func (n *Node) Recheck() { n.lookup.Recheck() }
