package peers

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// ClusterStatus is the document of GET /v1/cluster.
type ClusterStatus struct {
	// Node is the node that answered; ClusterID the cluster's id.
	Node      string         `json:"node"`
	ClusterID string         `json:"cluster_id"`
	Members   []MemberStatus `json:"members"`
	Raft      RaftStatus     `json:"raft"`
	// Sites groups the members by site (--site), by name; a cluster
	// whose nodes name no site has one, "".
	Sites  []SiteStatus              `json:"sites"`
	Grains map[string]map[string]int `json:"grains"`
}

// MemberStatus is one node: gossip state, Raft role, and what the node
// itself reported (Raft state, applied index, grains), when reachable.
type MemberStatus struct {
	Node       string         `json:"node"`
	Site       string         `json:"site"`    // --site; "" = none given
	Address    string         `json:"address"` // HTTP address
	GossipAddr string         `json:"gossip_address"`
	RaftAddr   string         `json:"raft_address,omitempty"`
	ActorAddr  string         `json:"actor_address,omitempty"`
	State      string         `json:"state"` // alive, left, failed
	Since      time.Time      `json:"since"`
	InTopology bool           `json:"in_topology"`
	RaftRole   string         `json:"raft_role"` // voter, non_voter, none
	RaftState  string         `json:"raft_state,omitempty"`
	Applied    uint64         `json:"applied_index,omitempty"`
	Grains     map[string]int `json:"grains,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// SiteStatus is one site: its members (in gossip), how many of them are
// alive, and their Raft roles. The leader's autopilot spreads the voters
// across the sites (cluster/autopilot).
type SiteStatus struct {
	Site      string   `json:"site"`
	Members   []string `json:"members"`
	Alive     int      `json:"alive"`
	Voters    []string `json:"voters"`
	NonVoters []string `json:"non_voters"`
}

// RaftStatus is the Raft configuration as this node knows it.
type RaftStatus struct {
	Leader       string   `json:"leader"`
	Voters       []string `json:"voters"`
	NonVoters    []string `json:"non_voters"`
	AppliedIndex uint64   `json:"applied_index"`
	CommitIndex  uint64   `json:"commit_index"`
}

// ClusterStatus implements api.ClusterService: the document of GET
// /v1/cluster, a ClusterStatus.
func (o *Ops) ClusterStatus(ctx context.Context) (any, error) {
	return o.status(ctx), nil
}

// Internal implements api.ClusterService: the node-to-node routes on the
// public HTTP port. With TLS they are served only on the mutual-TLS link
// (internalHandler), and the public port answers 404.
func (o *Ops) Internal() http.Handler {
	if o.cfg.Link != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "peers: node-to-node routes are served on the Raft address over mutual TLS", http.StatusNotFound)
		})
	}
	return o.InternalHandler()
}

// InternalHandler serves the node-to-node routes; with TLS the node
// serves it on its link's "ucgrid-internal" connections
// (peerlink.Link.Internal).
func (o *Ops) InternalHandler() http.Handler { return internalHandler{o: o} }

func (o *Ops) status(ctx context.Context) ClusterStatus {
	d := o.dir
	leader, _ := d.Leader()
	st := ClusterStatus{Node: d.ID(), ClusterID: d.ClusterID(), Grains: map[string]map[string]int{},
		Raft: RaftStatus{Leader: leader, Voters: []string{}, NonVoters: []string{}, AppliedIndex: d.Applied(), CommitIndex: d.CommitIndex()}}
	role := map[string]string{}
	if servers, err := d.Servers(); err == nil {
		for _, s := range servers {
			if s.Voter {
				st.Raft.Voters = append(st.Raft.Voters, s.ID)
				role[s.ID] = "voter"
			} else {
				st.Raft.NonVoters = append(st.Raft.NonVoters, s.ID)
				role[s.ID] = "non_voter"
			}
		}
	}
	inTopo := map[string]bool{}
	if a, ok := o.cfg.Actors.Local(); ok {
		for _, m := range a.Members {
			inTopo[m.Node] = m.InTopology
		}
	}
	for _, m := range o.members() {
		if slices.Contains(m.Meta.Roles, roleJoining) && m.State != membership.StateAlive {
			continue // the temporary identity of a node that has joined since
		}
		id := raftID(m)
		ms := MemberStatus{Node: id, Site: m.Meta.Site, Address: m.Meta.HTTPAddr, GossipAddr: m.Addr, RaftAddr: m.Meta.RaftAddr,
			ActorAddr: m.Meta.ActorAddr, State: string(m.State), Since: m.Since, InTopology: inTopo[m.Name],
			RaftRole: cmpOr(role[id], "none")}
		if m.MetaErr != nil {
			ms.Error = m.MetaErr.Error()
		}
		if slices.Contains(m.Meta.Roles, roleJoining) {
			ms.State = roleJoining
		}
		st.Members = append(st.Members, ms)
	}
	st.Sites = sitesOf(st.Members)
	o.fillReports(ctx, st.Members)
	for _, m := range st.Members {
		if m.Grains != nil {
			st.Grains[m.Node] = m.Grains
		}
	}
	return st
}

// sitesOf groups members by site, sites and members by name.
func sitesOf(ms []MemberStatus) []SiteStatus {
	idx := map[string]int{}
	out := []SiteStatus{}
	for _, m := range ms {
		i, ok := idx[m.Site]
		if !ok {
			i = len(out)
			idx[m.Site] = i
			out = append(out, SiteStatus{Site: m.Site, Members: []string{}, Voters: []string{}, NonVoters: []string{}})
		}
		s := &out[i]
		s.Members = append(s.Members, m.Node)
		if m.State == string(membership.StateAlive) {
			s.Alive++
		}
		switch m.RaftRole {
		case "voter":
			s.Voters = append(s.Voters, m.Node)
		case "non_voter":
			s.NonVoters = append(s.NonVoters, m.Node)
		}
	}
	for i := range out {
		slices.Sort(out[i].Members)
		slices.Sort(out[i].Voters)
		slices.Sort(out[i].NonVoters)
	}
	slices.SortFunc(out, func(a, b SiteStatus) int { return strings.Compare(a.Site, b.Site) })
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fillReports asks every alive member (this node directly) for its own
// report, in parallel, each bounded by statusTimeout.
func (o *Ops) fillReports(ctx context.Context, ms []MemberStatus) {
	var wg sync.WaitGroup
	for i := range ms {
		m := &ms[i]
		if m.Node == o.dir.ID() {
			applyReport(m, o.localReport())
			continue
		}
		if m.State != string(membership.StateAlive) || m.Address == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			var rep nodeReport
			if err := o.client.do(rctx, http.MethodGet, o.client.target(m.Address, m.RaftAddr), NodePath, nil, &rep); err != nil {
				m.Error = "no report: " + strings.TrimPrefix(err.Error(), "peers: ")
				return
			}
			applyReport(m, rep)
		}()
	}
	wg.Wait()
}

// statusTimeout bounds one node's answer to a status request.
const statusTimeout = 2 * time.Second

func applyReport(m *MemberStatus, rep nodeReport) {
	m.RaftState, m.Applied, m.Grains = rep.RaftState, rep.AppliedIndex, rep.Grains
}

// localReport is what this node reports about itself.
func (o *Ops) localReport() nodeReport {
	rep := nodeReport{Node: o.dir.ID(), RaftState: o.dir.RaftState(), AppliedIndex: o.dir.Applied(),
		CommitIndex: o.dir.CommitIndex(), Grains: map[string]int{}}
	a, ok := o.cfg.Actors.Local()
	if !ok {
		return rep
	}
	for _, m := range a.Members {
		if m.InTopology {
			rep.ActorIDs = append(rep.ActorIDs, m.ActorID)
		}
	}
	for k, n := range a.Grains {
		rep.Grains[k] = n
	}
	return rep
}
