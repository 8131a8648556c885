package peers

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
// new ID (Actors.Restart).
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

// StartWatchdog starts the watchdog: every watchdogInterval it asks the
// peers whether they have blocked this node's actor system.
func (o *Ops) StartWatchdog() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	o.watchdog = func() { cancel(); <-done }
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
			if !o.peersExcludeUs(ctx) {
				rounds = 0
				continue
			}
			if rounds++; rounds < blockedRounds {
				continue
			}
			rounds = 0
			o.restartActors(ctx)
		}
	}()
}

// restartActors restarts the actor layer under a new identity and
// follows its gossip membership.
func (o *Ops) restartActors(ctx context.Context) {
	o.log.Warn("the other nodes have blocked this node's actor system (it was declared dead): restarting the actor layer under a new identity")
	rctx, rcancel := context.WithTimeout(ctx, restartTimeout)
	ms, err := o.cfg.Actors.Restart(rctx)
	if err == nil {
		err = o.follow(rctx, ms)
	}
	rcancel()
	if err != nil {
		o.log.Error("actor layer restart failed; retrying at the next check", "err", err)
		return
	}
	o.metrics.actorRestart.Inc()
	a, _ := o.cfg.Actors.Local() // the zero LocalActors should the layer be gone again
	o.log.Info("actor layer restarted", "actor_system", a.ActorID)
}

// StopWatchdog stops the watchdog (a no-op when it never started).
func (o *Ops) StopWatchdog() {
	if o.watchdog != nil {
		o.watchdog()
	}
}

// peersExcludeUs asks every alive peer for its actor topology.
func (o *Ops) peersExcludeUs(ctx context.Context) bool {
	a, ok := o.cfg.Actors.Local()
	if !ok {
		return false
	}
	self := a.ActorID
	var topologies [][]string
	for _, m := range o.members() {
		if m.State != membership.StateAlive || m.Meta.HTTPAddr == "" || raftID(m) == o.dir.ID() ||
			slices.Contains(m.Meta.Roles, roleJoining) {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, statusTimeout)
		var rep nodeReport
		err := o.client.do(rctx, http.MethodGet, o.client.target(m.Meta.HTTPAddr, m.Meta.RaftAddr), NodePath, nil, &rep)
		cancel()
		if err != nil {
			continue // an unreachable peer proves nothing either way
		}
		topologies = append(topologies, rep.ActorIDs)
	}
	return blockedVerdict(self, topologies)
}
