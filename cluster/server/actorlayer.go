package server

import (
	"context"
	"errors"
	"fmt"
	"net"

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

// ErrGossipAddrInUse is returned by Start when another process holds the
// gossip address (memberlist needs it for both UDP and TCP).
var ErrGossipAddrInUse = errors.New("server: gossip address already in use")

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

func (s *Server) startActors(ctx context.Context) error {
	if err := checkGossipAddr(s.cfg.GossipAddr); err != nil {
		return err
	}
	a := &actorLayer{dispatched: make(chan struct{})}
	node, err := ucluster.Start(ctx, ucluster.Config{
		// A leaving node waits for its grains' runtime state to reach
		// their new nodes before it stops talking to them.
		GrainsStopped: func() { a.deps.WaitHandovers() },
		Membership: membership.Config{
			NodeName: s.dir.ID(), BindAddr: s.cfg.GossipAddr, Seeds: s.cfg.Join,
			Meta: membership.Meta{RaftAddr: s.dir.RaftAddr()},
		},
		ActorAddr: s.cfg.ActorAddr,
		Kinds:     actors.Kinds(),
		Logger:    s.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("server: actor cluster: %w", err)
	}
	a.node = node
	s.actors = a
	system := node.Cluster().ActorSystem
	a.deps = &actors.Deps{Store: s.dir.Store(), Applied: s.dir.Applied, WaitApplied: s.dir.WaitApplied,
		Request: node.Request, Apply: s.dir.Apply, Logger: s.cfg.Logger}
	a.unregister = actors.Register(system, a.deps)
	if a.hub, err = actors.StartHub(system, a.deps); err != nil {
		return err
	}
	changes, cancelFeed := s.dir.Subscribe(feedBuffer)
	dctx, stop := context.WithCancel(context.Background())
	a.stopDispatch = func() { stop(); cancelFeed() }
	go func() {
		defer close(a.dispatched)
		actors.Dispatch(dctx, system, a.deps, changes)
	}()
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
	err := a.node.Shutdown(ctx)
	if a.unregister != nil {
		a.unregister()
	}
	if err != nil {
		return fmt.Errorf("server: stop actor cluster: %w", err)
	}
	return nil
}
