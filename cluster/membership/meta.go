package membership

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// MetaVersion is the wire version of the node metadata written by this
// package. It is a major version: a decoder rejects versions it does not
// know. Fields may be added to version 1 without bumping it (older decoders
// ignore unknown JSON keys); renaming or re-purposing a key needs version 2.
const MetaVersion = 1

// MaxMetaSize is the most bytes of metadata memberlist carries per node
// (memberlist.MetaMaxSize). memberlist panics beyond it, so EncodeMeta
// checks it first.
const MaxMetaSize = memberlist.MetaMaxSize

// ErrMetaTooLarge is returned (wrapped) by EncodeMeta when the encoded
// metadata exceeds MaxMetaSize.
var ErrMetaTooLarge = errors.New("membership: node metadata too large")

// ErrMetaVersion is returned (wrapped) by DecodeMeta for a metadata version
// this build does not understand, e.g. a newer node during an upgrade.
var ErrMetaVersion = errors.New("membership: unsupported node metadata version")

// Meta is what a node tells the others about itself through gossip. Every
// field is optional: a node is gossiping before its actor layer has started,
// and a node without Raft has no RaftAddr.
type Meta struct {
	// ActorAddr is the host:port of the node's protoactor-go remote.
	ActorAddr string
	// ActorID is the node's actor system ID (protoactor-go Member.Id). It
	// changes every time the actor layer starts.
	ActorID string
	// Kinds are the grain kinds the node hosts.
	Kinds []string
	// Client marks an actor-cluster client: it can call grains but hosts
	// none, so it is not part of the actor topology.
	Client bool
	// RaftAddr is the host:port of the node's Raft transport.
	RaftAddr string
	// Roles are free-form role names (e.g. "voter").
	Roles []string
	// RaftID is the node's Raft server id. Empty means the node name: a
	// node joining a cluster gossips under a temporary name first (see
	// docs/cluster.md, "Joining") and names its Raft id here.
	RaftID string
	// ClusterID is the id of the cluster the node's data belongs to;
	// empty while a fresh node waits to be added to a cluster.
	ClusterID string
	// HTTPAddr is the host:port of the node's HTTP server: forwarded
	// writes and cluster status requests go there.
	HTTPAddr string
	// Leaving is set by Membership.Leave just before the node leaves.
	// memberlist's leave notification does not say whether a node left or
	// failed (its Node.State is never updated), so the intent travels in
	// the metadata, as Serf's leave intents do.
	Leaving bool
	// Site is the site the node runs in (node.Config.Site); "" = the
	// cluster's one site.
	Site string
	// SiteGossipAddr is the IP:port of the node's site pool (see
	// Config.SiteBindAddr), set by Membership when Site is set: the other
	// nodes of the site join it there. SetMeta and UpdateMeta keep it.
	SiteGossipAddr string
}

// wireMeta is the JSON form of Meta. Keys are short because the whole
// document must fit in MaxMetaSize with room for many kinds and roles.
type wireMeta struct {
	V        int      `json:"v"`
	Actor    string   `json:"a,omitempty"`
	ID       string   `json:"id,omitempty"`
	Kinds    []string `json:"k,omitempty"`
	Client   bool     `json:"c,omitempty"`
	RaftAddr string   `json:"r,omitempty"`
	Roles    []string `json:"ro,omitempty"`
	RaftID   string   `json:"ri,omitempty"`
	Cluster  string   `json:"cl,omitempty"`
	HTTP     string   `json:"h,omitempty"`
	Leaving  bool     `json:"l,omitempty"`
	Site     string   `json:"s,omitempty"`
	SiteGsp  string   `json:"sg,omitempty"`
}

// EncodeMeta encodes m in the versioned wire format. It fails with
// ErrMetaTooLarge when the result would not fit in MaxMetaSize.
func EncodeMeta(m Meta) ([]byte, error) {
	b, err := json.Marshal(wireMeta{
		V:        MetaVersion,
		Actor:    m.ActorAddr,
		ID:       m.ActorID,
		Kinds:    m.Kinds,
		Client:   m.Client,
		RaftAddr: m.RaftAddr,
		Roles:    m.Roles,
		RaftID:   m.RaftID,
		Cluster:  m.ClusterID,
		HTTP:     m.HTTPAddr,
		Leaving:  m.Leaving,
		Site:     m.Site,
		SiteGsp:  m.SiteGossipAddr,
	})
	if err != nil {
		return nil, fmt.Errorf("membership: encode node metadata: %w", err)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d (kinds=%d roles=%d)",
			ErrMetaTooLarge, len(b), MaxMetaSize, len(m.Kinds), len(m.Roles))
	}
	return b, nil
}

// DecodeMeta decodes metadata written by EncodeMeta. Empty input decodes to
// the zero Meta: memberlist gossips a node before its delegate is set.
func DecodeMeta(b []byte) (Meta, error) {
	if len(b) == 0 {
		return Meta{}, nil
	}
	var w wireMeta
	if err := json.Unmarshal(b, &w); err != nil {
		return Meta{}, fmt.Errorf("membership: decode node metadata: %w", err)
	}
	if w.V != MetaVersion {
		return Meta{}, fmt.Errorf("%w: %d (this build reads %d)", ErrMetaVersion, w.V, MetaVersion)
	}
	return Meta{
		ActorAddr:      w.Actor,
		ActorID:        w.ID,
		Kinds:          w.Kinds,
		Client:         w.Client,
		RaftAddr:       w.RaftAddr,
		Roles:          w.Roles,
		RaftID:         w.RaftID,
		ClusterID:      w.Cluster,
		HTTPAddr:       w.HTTP,
		Leaving:        w.Leaving,
		Site:           w.Site,
		SiteGossipAddr: w.SiteGsp,
	}, nil
}

// clone returns a deep copy of m, so callers cannot alias our slices.
func (m Meta) clone() Meta {
	m.Kinds = append([]string(nil), m.Kinds...)
	m.Roles = append([]string(nil), m.Roles...)
	return m
}
