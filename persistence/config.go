package persistence

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// Config configures a Node. The zero value of every field but Dir means
// its documented default; Open fills the defaults and calls Validate.
type Config struct {
	// Dir is the node's data directory (required). Open creates it; it holds
	// store/ (Pebble: directory, journal, Raft log) and snapshots/ (Raft
	// snapshots). A non-empty directory without store/ is refused.
	Dir string

	// NodeID names this node in Raft for its whole life. Default: the id
	// stored in Dir, or on first start a random "node-<hex>". A stored id
	// that differs fails Open.
	NodeID string

	// ClusterID names the cluster the data belongs to. Default: the stored
	// id, or on first start a random one. When set, Open fails unless the
	// stored id matches, so a node is never started on another cluster's
	// data directory.
	ClusterID string

	// RaftBind is the TCP address Raft listens on. Default "127.0.0.1:0"
	// (any free port: fine for a single node, whose own address is updated
	// in the Raft configuration when it starts; clustered nodes need a
	// fixed address).
	RaftBind string

	// RaftAdvertise is the address other nodes dial, when it differs from
	// the bound one (binding 0.0.0.0, NAT). Default: the bound address.
	RaftAdvertise string

	// RaftLayer, when set, carries Raft instead of plain TCP: a mutual-TLS
	// stream layer (cluster/peerlink) that authenticates every peer before
	// Raft reads a byte of it. RaftBind and RaftAdvertise are then unused:
	// the layer is bound already and its Addr is advertised. Nil: plain
	// TCP on RaftBind, for loopback-only nodes and tests.
	RaftLayer raft.StreamLayer

	// Logger receives the store's and Raft's logs (Raft's info chatter at
	// debug level). Default: discard.
	Logger *slog.Logger

	// HeartbeatTimeout is how long a follower waits for the leader before
	// it campaigns. Default 500ms: a LAN round trip is well under 1ms, and
	// a single node becomes leader within 0.5–1s of start (Raft waits one
	// to two timeouts before campaigning). Raft's own default is 1s.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes. Default 500ms.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without hearing
	// from a quorum. Default 250ms; must not exceed HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long followers wait to learn the commit
	// index when no new entries flow. Default 20ms.
	CommitTimeout time.Duration

	// MaxAppendEntries caps the entries per log append and per replication
	// message; concurrent Apply calls are batched up to it (one fsync per
	// batch). Default 512 (Raft allows at most 1024).
	MaxAppendEntries int

	// SnapshotInterval is how often Raft checks whether to snapshot (at a
	// random moment between one and two intervals). Default 30s: the
	// entries written since the last snapshot are what a start after a
	// crash reads again (docs/persistence.md "Start"), and a snapshot
	// costs one pass over the directory (~2 s at 1 M grants on a loaded
	// 2-core machine), taken only when SnapshotThreshold entries came in
	// meanwhile.
	SnapshotInterval time.Duration
	// SnapshotThreshold is how many new log entries trigger a snapshot.
	// Default 16384.
	SnapshotThreshold uint64
	// CloseSnapshotEntries: Close takes a snapshot first when at least
	// this many entries were applied since the last one, so that the next
	// start reads at most this many log entries again. Default 4096
	// (a few milliseconds of replay; the snapshot costs one pass over the
	// directory at shutdown).
	CloseSnapshotEntries uint64
	// TrailingLogs is how many entries stay in the log after a snapshot, so
	// a briefly lagging follower catches up without a snapshot. Default 10240.
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept on disk. Default 2.
	SnapshotRetain int

	// ApplyTimeout bounds how long Apply waits to enqueue a command when
	// its context has no deadline. Default 10s.
	ApplyTimeout time.Duration

	// ForwardTimeout bounds how long Apply on a follower keeps trying to
	// reach a leader (none elected yet, or the known one unreachable)
	// before it fails with ErrNoLeader. Default 5s: an election takes about
	// one to two ElectionTimeouts, so a write survives a leader's crash,
	// while a node cut off from the majority answers within seconds.
	ForwardTimeout time.Duration

	// NoBootstrap stops a fresh node from making itself the only voter of a
	// new cluster; set it on nodes that join an existing cluster. Such a
	// node also has no cluster id until it is added to a cluster and told
	// it (AdoptClusterID), unless ClusterID is set. Default false.
	NoBootstrap bool

	// Now is the node's clock for what ends at a time: the typed reads
	// leave out grants, presets, memberships and deputies whose until has
	// passed (before the sweep deletes them), and the leader's expiry
	// sweep proposes ExpireGrants with it. Default time.Now; tests inject
	// a fake clock. The FSM never reads it (the proposer's now is in the
	// command), so nodes with different clocks still apply the same.
	Now func() time.Time

	// fs replaces the OS filesystem under the Pebble store (tests inject
	// faults with pebble's vfs/errorfs). Nil means vfs.Default.
	fs vfs.FS
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default. Open calls it, then Validate.
func (c Config) WithDefaults() Config {
	setDefault(&c.RaftBind, "127.0.0.1:0")
	setDefault(&c.HeartbeatTimeout, 500*time.Millisecond)
	setDefault(&c.ElectionTimeout, 500*time.Millisecond)
	setDefault(&c.LeaderLeaseTimeout, 250*time.Millisecond)
	setDefault(&c.CommitTimeout, 20*time.Millisecond)
	setDefault(&c.MaxAppendEntries, 512)
	setDefault(&c.SnapshotInterval, 30*time.Second)
	setDefault(&c.SnapshotThreshold, 16384)
	setDefault(&c.CloseSnapshotEntries, 4096)
	setDefault(&c.TrailingLogs, 10240)
	setDefault(&c.SnapshotRetain, 2)
	setDefault(&c.ApplyTimeout, 10*time.Second)
	setDefault(&c.ForwardTimeout, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.fs == nil {
		c.fs = vfs.Default
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func setDefault[T comparable](field *T, v T) {
	var zero T
	if *field == zero {
		*field = v
	}
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field ("persistence:
// Config.RaftBind: ...") and wrapping ErrInvalid.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Dir == "" {
		return invalidConfig("Dir", "is empty")
	}
	if c.NodeID != "" {
		if err := checkID("NodeID", c.NodeID); err != nil {
			msg := err.Error()
			var ce *CommandError
			if errors.As(err, &ce) {
				msg = ce.Msg // without the "persistence: invalid" of a command
			}
			return invalidConfig("NodeID", "%s", msg)
		}
	}
	if _, _, err := net.SplitHostPort(c.RaftBind); err != nil {
		return invalidConfig("RaftBind", "%q: %v", c.RaftBind, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HeartbeatTimeout", c.HeartbeatTimeout}, {"ElectionTimeout", c.ElectionTimeout},
		{"LeaderLeaseTimeout", c.LeaderLeaseTimeout}, {"CommitTimeout", c.CommitTimeout},
		{"SnapshotInterval", c.SnapshotInterval}, {"ApplyTimeout", c.ApplyTimeout},
		{"ForwardTimeout", c.ForwardTimeout},
	} {
		if d.v < 5*time.Millisecond {
			return invalidConfig(d.name, "%v is below 5ms", d.v)
		}
	}
	return c.validateLimits()
}

// invalidConfig is Validate's error: the field, what is wrong, ErrInvalid.
func invalidConfig(field, format string, args ...any) error {
	return fmt.Errorf("persistence: Config.%s: %s: %w", field, fmt.Sprintf(format, args...), ErrInvalid)
}

func (c Config) validateLimits() error {
	switch {
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return invalidConfig("LeaderLeaseTimeout", "%v exceeds HeartbeatTimeout (%v)", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return invalidConfig("ElectionTimeout", "%v is below HeartbeatTimeout (%v)", c.ElectionTimeout, c.HeartbeatTimeout)
	case c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024:
		return invalidConfig("MaxAppendEntries", "%d is not within 1..1024", c.MaxAppendEntries)
	case c.SnapshotRetain < 1:
		return invalidConfig("SnapshotRetain", "%d is below 1", c.SnapshotRetain)
	}
	return nil
}
