// Package autopilot decides how the Raft configuration should follow gossip
// membership: which members to add as voters or non-voters, which to
// promote or demote, and which dead servers to remove. It is a pure
// function over plain data (Step); the caller reads Raft and memberlist,
// passes the time in, and carries out the actions on the leader. When the
// members name more than one site, Step spreads the voters across the
// sites (sites.go) so that no site holds a majority while three or more
// sites exist.
package autopilot

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Health is a gossip member's state as the leader sees it.
type Health int

// Member health values.
const (
	Alive  Health = iota // answers probes
	Left                 // announced that it is leaving
	Failed               // declared dead by failure detection
)

func (h Health) String() string {
	switch h {
	case Alive:
		return "alive"
	case Left:
		return "left"
	default:
		return "failed"
	}
}

// Server is one entry of the Raft configuration.
type Server struct {
	ID, Addr string
	Voter    bool
}

// Member is one gossip member that names a Raft server.
type Member struct {
	// RaftID and RaftAddr are the Raft server the member runs.
	RaftID, RaftAddr string
	// ClusterID is the cluster the member's data belongs to ("" = a fresh
	// node waiting to be added).
	ClusterID string
	Health    Health
	// Since is when Health began.
	Since time.Time
	// Joining marks the temporary gossip identity a fresh node uses until
	// it has been added: its departure says nothing about the server.
	Joining bool
	// Site is the site the member runs in (membership.Meta.Site); "" is a
	// site of its own, the unnamed one.
	Site string
}

// Config is the policy.
type Config struct {
	// Voters is how many voters the cluster should have (more members
	// join as non-voters). Default 3: survives one failure; 5 survives two.
	Voters int
	// DeadGrace is how long a failed (or vanished) server keeps its place
	// before it is removed, so a restart or a short partition does not
	// churn the configuration. Left servers are removed at once.
	DeadGrace time.Duration
}

// Input is what the leader sees now.
type Input struct {
	// Self is the leader's Raft id: it is never removed or demoted.
	Self string
	// ClusterID is the leader's cluster id; members of another cluster are
	// not added.
	ClusterID string
	Servers   []Server
	Members   []Member
	Now       time.Time
}

// State is what Step remembers between calls.
type State struct {
	// Missing is when each server was first seen without any gossip
	// member naming it.
	Missing map[string]time.Time
	// Sites is the last site a gossip member gave for each server, so a
	// voter whose member vanished keeps counting for its site until it is
	// removed.
	Sites map[string]string
}

// Kind is what an Action does.
type Kind int

// Action kinds.
const (
	AddVoter Kind = iota + 1
	AddNonvoter
	Promote
	Demote
	Remove
)

func (k Kind) String() string {
	return [...]string{"", "add_voter", "add_nonvoter", "promote", "demote", "remove"}[k]
}

// Action is one change of the Raft configuration, in the order given.
type Action struct {
	Kind   Kind
	ID     string
	Addr   string // for AddVoter, AddNonvoter
	Reason string
}

func (a Action) String() string {
	return fmt.Sprintf("%s %s %s (%s)", a.Kind, a.ID, a.Addr, a.Reason)
}

// Step returns the actions that move the configuration towards the policy,
// and the state for the next call. Removals come first, then additions,
// then promotions and demotions. With members in one site (or none named)
// the first cfg.Voters servers by id are voters; with several sites the
// voters are spread across them (spread).
func Step(cfg Config, st State, in Input) (State, []Action) {
	if cfg.Voters < 1 {
		cfg.Voters = 1
	}
	members := bestMembers(in.Members)
	next := State{Missing: map[string]time.Time{}, Sites: serverSites(st, in.Servers, members)}
	var acts []Action
	kept := make([]Server, 0, len(in.Servers))
	for _, s := range in.Servers {
		act, missingSince := judge(cfg, st, in, s, members)
		if !missingSince.IsZero() {
			next.Missing[s.ID] = missingSince
		}
		if act != nil {
			acts = append(acts, *act)
			if act.Kind == Remove {
				continue
			}
		}
		kept = append(kept, s)
	}
	if pool, ok := newSitePool(next, in, kept, members); ok {
		return next, append(acts, spread(cfg, in, pool)...)
	}
	voters := countVoters(kept)
	adds, voters := additions(cfg, in, kept, members, voters)
	acts = append(acts, adds...)
	acts = append(acts, rebalance(cfg, in, kept, members, voters)...)
	return next, acts
}

// bestMembers picks, for every Raft id, the member that speaks for it:
// an alive member over a departed one; among alive ones a real member
// over a joining one, then the most recent; among departed ones the most
// recent. A node that rejoins under its old name first gossips as a
// joining identity, then leaves it for its real name: while the joining
// identity leaves, the real name's previous, departed member must not
// speak for the server the joining identity was just added as (it would
// be removed at once, and the node would never catch up).
func bestMembers(ms []Member) map[string]Member {
	out := map[string]Member{}
	better := func(m, old Member) bool {
		ma, oa := m.Health == Alive, old.Health == Alive
		switch {
		case ma != oa:
			return ma
		case ma && m.Joining != old.Joining:
			return !m.Joining
		}
		return m.Since.After(old.Since)
	}
	for _, m := range ms {
		if m.RaftID == "" {
			continue
		}
		if old, ok := out[m.RaftID]; !ok || better(m, old) {
			out[m.RaftID] = m
		}
	}
	return out
}

// judge decides about one configured server: keep, re-address or remove.
// It returns when the server was first seen missing, if it is.
func judge(cfg Config, st State, in Input, s Server, members map[string]Member) (*Action, time.Time) {
	if s.ID == in.Self {
		return nil, time.Time{}
	}
	m, ok := members[s.ID]
	if ok && m.Joining && m.Health != Alive {
		ok = false // its temporary identity left; the real one is not seen yet
	}
	if !ok {
		since, seen := st.Missing[s.ID]
		if !seen {
			since = in.Now
		}
		if in.Now.Sub(since) >= cfg.DeadGrace {
			return &Action{Kind: Remove, ID: s.ID, Reason: fmt.Sprintf("no gossip member for %v", in.Now.Sub(since).Round(time.Second))}, since
		}
		return nil, since
	}
	switch {
	case m.Health == Left:
		return &Action{Kind: Remove, ID: s.ID, Reason: "left the cluster"}, time.Time{}
	case m.Health == Failed && in.Now.Sub(m.Since) >= cfg.DeadGrace:
		return &Action{Kind: Remove, ID: s.ID, Reason: fmt.Sprintf("failed %v ago", in.Now.Sub(m.Since).Round(time.Second))}, time.Time{}
	case m.Health == Alive && m.RaftAddr != "" && m.RaftAddr != s.Addr && sameCluster(in, m):
		kind := AddNonvoter
		if s.Voter {
			kind = AddVoter
		}
		return &Action{Kind: kind, ID: s.ID, Addr: m.RaftAddr, Reason: "raft address changed from " + s.Addr}, time.Time{}
	}
	return nil, time.Time{}
}

func sameCluster(in Input, m Member) bool { return m.ClusterID == "" || m.ClusterID == in.ClusterID }

// additions adds alive members of this cluster that are not servers yet:
// as voters while there are fewer than cfg.Voters, else as non-voters.
func additions(cfg Config, in Input, kept []Server, members map[string]Member, voters int) ([]Action, int) {
	have := map[string]bool{}
	for _, s := range kept {
		have[s.ID] = true
	}
	var acts []Action
	for _, id := range sortedKeys(members) {
		m := members[id]
		if have[id] || m.Health != Alive || m.RaftAddr == "" || !sameCluster(in, m) {
			continue
		}
		if voters < cfg.Voters {
			voters++
			acts = append(acts, Action{Kind: AddVoter, ID: id, Addr: m.RaftAddr, Reason: "new member"})
		} else {
			acts = append(acts, Action{Kind: AddNonvoter, ID: id, Addr: m.RaftAddr, Reason: fmt.Sprintf("new member; %d voters already", voters)})
		}
	}
	return acts, voters
}

// rebalance promotes alive non-voters while voters are missing and demotes
// voters beyond cfg.Voters (never the leader; failed ones first).
func rebalance(cfg Config, in Input, kept []Server, members map[string]Member, voters int) []Action {
	var acts []Action
	sorted := slices.Clone(kept)
	slices.SortFunc(sorted, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })
	for _, s := range sorted {
		if voters >= cfg.Voters {
			break
		}
		if m, ok := members[s.ID]; !s.Voter && ok && m.Health == Alive && !m.Joining {
			voters++
			acts = append(acts, Action{Kind: Promote, ID: s.ID, Reason: fmt.Sprintf("%d voters, want %d", voters-1, cfg.Voters)})
		}
	}
	for _, s := range demotionOrder(sorted, members) {
		if voters <= cfg.Voters {
			break
		}
		if s.Voter && s.ID != in.Self {
			voters--
			acts = append(acts, Action{Kind: Demote, ID: s.ID, Reason: fmt.Sprintf("%d voters, want %d", voters+1, cfg.Voters)})
		}
	}
	return acts
}

// demotionOrder lists servers failed first, then by descending id.
func demotionOrder(ss []Server, members map[string]Member) []Server {
	out := slices.Clone(ss)
	slices.SortStableFunc(out, func(a, b Server) int {
		return cmp.Or(cmp.Compare(aliveRank(members, a.ID), aliveRank(members, b.ID)), cmp.Compare(b.ID, a.ID))
	})
	return out
}

func aliveRank(members map[string]Member, id string) int {
	if m, ok := members[id]; ok && m.Health == Alive {
		return 1
	}
	return 0
}

func countVoters(ss []Server) int {
	n := 0
	for _, s := range ss {
		if s.Voter {
			n++
		}
	}
	return n
}

func sortedKeys(m map[string]Member) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
