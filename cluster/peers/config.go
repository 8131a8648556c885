package peers

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	ucluster "github.com/ucgrid/ucgrid/cluster"
	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/cluster/peerlink"
	"github.com/ucgrid/ucgrid/persistence"
)

// Config is what Ops needs of its node. New fills its defaults
// (WithDefaults) and refuses one Validate rejects.
type Config struct {
	// Dir is the node's directory: its Raft server, whose configuration
	// the leader's autopilot changes, and whose writes a follower forwards
	// to the leader (required).
	Dir *persistence.Node
	// Link is the node's mutual-TLS link on the Raft address
	// (cluster/peerlink): node-to-node requests travel over it, and a
	// server is probed over it before it enters Raft. nil without TLS:
	// requests go to the peers' HTTP addresses.
	Link *peerlink.Link
	// PeerTLS checks the peers' HTTPS certificates when there is no Link
	// (api.Server.PeerTLSConfig). nil: plain HTTP.
	PeerTLS *tls.Config
	// HTTPAddr is the address this node's HTTP server is bound to
	// (required); other nodes dial it, with the gossip address's host when
	// it binds all interfaces.
	HTTPAddr string
	// GossipAddr is this node's gossip address and Seeds the gossip
	// addresses it joins (the node's Config.GossipAddr and Join).
	GossipAddr string
	Seeds      []string
	// StartGossip starts a gossip identity of this node under name with
	// meta, on GossipAddr with the cluster's seeds and key (required): Join
	// gossips under a temporary identity while the leader adds the node.
	StartGossip func(ctx context.Context, name string, meta membership.Meta) (*membership.Membership, error)
	// Secret is the cluster secret that signs node-to-node requests.
	// Default "": this node neither forwards writes nor accepts forwarded
	// ones.
	Secret string
	// Voters and DeadGrace configure the leader's autopilot
	// (autopilot.Config): how many voters it keeps, how long a failed
	// server keeps its place. No defaults here: the node's Config has
	// them (3, 30s).
	Voters    int
	DeadGrace time.Duration
	// ReadyTimeout bounds Join's wait to be added by the leader.
	ReadyTimeout time.Duration
	// Actors is the node's actor layer (required).
	Actors Actors
	// Logger receives the logs. Default: discard.
	Logger *slog.Logger
}

// Actors is the node's actor layer as Ops sees it: the node replaces the
// layer when the watchdog restarts it. Its methods are called from any
// goroutine (status requests, the watchdog), before the layer started,
// while it runs and after it stopped.
type Actors interface {
	// Local is what the running actor layer knows of this node; false when
	// no layer runs.
	Local() (LocalActors, bool)
	// Restart replaces the actor layer by one under a new actor system ID
	// and returns the new layer's gossip membership; ctx bounds it. The
	// watchdog calls it, never concurrently with itself.
	Restart(ctx context.Context) (*membership.Membership, error)
}

// LocalActors is the actor layer's report of this node.
type LocalActors struct {
	// ActorID is this node's actor system ID.
	ActorID string
	// Members are the actor cluster's members as this node sees them
	// (cluster.Node.Members).
	Members []ucluster.MemberStatus
	// Grains counts the grains this node hosts, by kind.
	Grains map[string]int
}

// WithDefaults returns a copy of c with every zero field that has a
// default set to it (Logger).
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate names the first required field c lacks.
func (c Config) Validate() error {
	switch {
	case c.Dir == nil:
		return errors.New("peers: Config.Dir is nil")
	case c.HTTPAddr == "":
		return errors.New("peers: Config.HTTPAddr is empty")
	case c.StartGossip == nil:
		return errors.New("peers: Config.StartGossip is nil")
	case c.Actors == nil:
		return errors.New("peers: Config.Actors is nil")
	}
	return nil
}
