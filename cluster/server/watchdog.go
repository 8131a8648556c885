package server

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// The watchdog finds out that this node's peers have blocked its actor
// system: protoactor-go blocks, for ever, the actor system ID of a member
// it once saw leave or fail (PITFALLS.md). A node that was paused (a long
// GC or VM pause, SIGSTOP) or cut off for longer than failure detection
// comes back into gossip on its own (seeds are re-joined), but its grains
// stay out of the others' topology. Gossip cannot tell it — the blocked
// node no longer receives the others' actor gossip — so the watchdog asks
// the peers over the node-to-node HTTP route which actor systems their
// topology holds. When most peers that answer leave this node's ID out on
// blockedRounds checks in a row, the node restarts its actor layer under a
// new ID (restartActors).
const (
	watchdogInterval = 3 * time.Second
	// blockedRounds: a node that has just joined is briefly missing from
	// the peers' topology; two rounds apart rule that out.
	blockedRounds = 2
	// restartTimeout bounds one restart of the actor layer.
	restartTimeout = 30 * time.Second
)

// blockedVerdict decides from the peers' reports whether they exclude
// self: ids lists each answering peer's topology (nil for a peer whose
// topology is empty: it is starting and proves nothing).
func blockedVerdict(self string, ids [][]string) bool {
	asked, excluded := 0, 0
	for _, topo := range ids {
		if len(topo) == 0 {
			continue
		}
		asked++
		if !slices.Contains(topo, self) {
			excluded++
		}
	}
	return asked > 0 && 2*excluded > asked
}

func (s *Server) startWatchdog() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.watchdog = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(watchdogInterval)
		defer t.Stop()
		rounds := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !s.peersExcludeUs(ctx) {
				rounds = 0
				continue
			}
			if rounds++; rounds < blockedRounds {
				continue
			}
			rounds = 0
			s.cfg.Logger.Warn("the other nodes have blocked this node's actor system (it was declared dead): restarting the actor layer under a new identity")
			rctx, rcancel := context.WithTimeout(ctx, restartTimeout)
			err := s.restartActors(rctx)
			rcancel()
			if err != nil {
				s.cfg.Logger.Error("actor layer restart failed; retrying at the next check", "err", err)
				continue
			}
			s.ops.metrics.actorRestart.Inc()
			s.cfg.Logger.Info("actor layer restarted", "actor_system", s.layer().node.ActorID())
		}
	}()
}

func (s *Server) stopWatchdog() {
	if s.watchdog != nil {
		s.watchdog()
	}
}

// peersExcludeUs asks every alive peer for its actor topology.
func (s *Server) peersExcludeUs(ctx context.Context) bool {
	a := s.layer()
	if a == nil {
		return false
	}
	self := a.node.ActorID()
	var topologies [][]string
	for _, m := range s.ops.members() {
		if m.State != membership.StateAlive || m.Meta.HTTPAddr == "" || raftID(m) == s.dir.ID() ||
			slices.Contains(m.Meta.Roles, roleJoining) {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, statusTimeout)
		var rep nodeReport
		err := s.ops.client.do(rctx, http.MethodGet, s.ops.client.target(m.Meta.HTTPAddr, m.Meta.RaftAddr), internalNode, nil, &rep)
		cancel()
		if err != nil {
			continue // an unreachable peer proves nothing either way
		}
		topologies = append(topologies, rep.ActorIDs)
	}
	return blockedVerdict(self, topologies)
}
